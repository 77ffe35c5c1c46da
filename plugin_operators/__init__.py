"""Thin FiftyOne operators over the ``fiftyone_videorec`` library, one concept each.

FiftyOne loads this file as the plugin's entry point (``py_entry`` in ``fiftyone.yml``) under a
synthetic module name, so ``register`` imports the operator modules by their absolute names.
"""

import os
import sys

_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def operator_classes() -> list:
    """Return the operator and panel classes, in the order the App's operator browser lists them."""
    if _CHECKOUT not in sys.path:  # the checkout holds plugin_operators/ (and the library)
        sys.path.insert(0, _CHECKOUT)
    from plugin_operators.curation import CurateVideos, PredictVideoClasses, TagImagenetClasses
    from plugin_operators.duplicates import FindDuplicateVideos
    from plugin_operators.embedding import BuildVideoSimilarityIndex, ComputeVideoEmbeddings
    from plugin_operators.loading import LoadUCF101Subset, LoadVideoFolder
    from plugin_operators.moments import FindSimilarMoments
    from plugin_operators.panel import SimilarVideosPanel
    from plugin_operators.search import EvaluateVideoRetrieval, FindSimilarVideos
    from plugin_operators.training import TrainVideoEmbedder

    return [LoadUCF101Subset, LoadVideoFolder, TrainVideoEmbedder, ComputeVideoEmbeddings,
            BuildVideoSimilarityIndex, FindSimilarVideos, EvaluateVideoRetrieval, FindSimilarMoments,
            FindDuplicateVideos, PredictVideoClasses, CurateVideos, TagImagenetClasses,
            SimilarVideosPanel]


def register(plugin) -> None:
    for operator in operator_classes():
        plugin.register(operator)
