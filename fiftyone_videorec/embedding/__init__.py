"""From a model folder to vectors in the dataset.

``model_folder`` (what a folder holds, its sampling and fingerprint; no TensorFlow), ``embedder``
(FiftyOne's Model wrapper) over ``streams`` (the two networks' traced calls), ``run`` (embedding a
dataset, decoding ahead of the network), ``jobs`` (the same runs as delegated shards),
``predictions`` (class predictions).
"""
