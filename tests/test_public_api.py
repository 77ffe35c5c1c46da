"""The public API: every advertised name resolves (the lazy map has no stale entry)."""

import fiftyone_videorec as vr


def test_every_public_name_resolves():
    for name in vr.__all__:
        assert getattr(vr, name) is not None, name
    for name in ("load_ucf101", "load_synthetic", "load_folder", "train", "load_model", "embed_dataset",
                 "build_index", "recommend", "evaluate_retrieval", "write_report", "run_demo"):
        assert callable(getattr(vr, name)), name
