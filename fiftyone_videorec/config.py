"""One place for every default, field name and folder the project uses.

Everything else imports from here. Folders live under ``~/.cache/fiftyone-videorec`` unless
``VIDEOREC_HOME`` points elsewhere (tests point it at a private temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

# --- where things are written -------------------------------------------------------------
ENV_HOME = "VIDEOREC_HOME"


def home_dir() -> Path:
    """Return the project's root folder for caches, models and downloaded data."""
    return Path(os.environ.get(ENV_HOME, Path.home() / ".cache" / "fiftyone-videorec")).expanduser()


def data_dir() -> Path:
    """Return the folder that holds downloaded / generated video sets."""
    return home_dir() / "data"


def cache_dir() -> Path:
    """Return the folder of the decoded-frame cache (safe to delete)."""
    return home_dir() / "frame-cache"


def models_dir() -> Path:
    """Return the folder where trained model folders go by default."""
    return home_dir() / "models"


def reports_dir() -> Path:
    """Return the folder where reports go by default."""
    return home_dir() / "reports"


# --- UCF101 ---------------------------------------------------------------------------------
UCF101_URL = "https://storage.googleapis.com/thumos14_files/UCF101_videos.zip"
UCF101_NUM_CLASSES = 10
UCF101_PER_CLASS = 50
UCF101_SPLIT = (30, 10, 10)
DEFAULT_SEED = 42

# --- splits / tags --------------------------------------------------------------------------
SPLITS = ("train", "val", "test")
TRAIN_TAG, VAL_TAG, TEST_TAG = SPLITS

# --- dataset names and fields ---------------------------------------------------------------
UCF101_DATASET = "videorec-ucf101"
SYNTHETIC_DATASET = "videorec-synthetic"
LABEL_FIELD = "ground_truth"
PREDICTION_FIELD = "predictions"
EMBEDDINGS_FIELD = "videorec_embedding"
PRETRAINED_FIELD = "videorec_pretrained"  # the built-in ImageNet model's vectors (the demo's before-training figure)
EMBED_ERROR_FIELD = "videorec_embed_error"
IMPORT_WARNING_FIELD = "videorec_import_warning"  # e.g. a truncated file, imported but named
SIMILARITY_SCORE_FIELD = "videorec_similarity"
GROUP_FIELD = "ucf_group"
CLIP_FIELD = "ucf_clip"
SOURCE_FIELD = "source"
ORIGINAL_PATH_FIELD = "original_filepath"
BRAIN_KEY = "videorec_sim"
VIS_BRAIN_KEY = "videorec_viz"

# --- frames ---------------------------------------------------------------------------------
# The recipe of TensorFlow's video classification tutorial ("tutorial" preset): 10 frames, every 15th frame, 224x224.
TUTORIAL_N_FRAMES = 10
TUTORIAL_FRAME_STEP = 15
TUTORIAL_IMAGE_SIZE = 224

DEFAULT_PRESET = "fast"
PRESET_NAMES = ("fast", "motion", "tutorial", "tiny")  # model.PRESETS, without importing Keras
DEFAULT_BATCH_SIZE = 8
# Test-time clips averaged per video. Chosen by measurement (benchmarks/train.md, "clip averaging"):
# 3 evenly spaced clips lift test-vs-train precision@5 over 1, at one decode pass per video.
DEFAULT_CLIPS = 3

# --- the ImageNet frame network (backbone.py) ------------------------------------------------------
# Frames per video and their side in pixels, chosen on validation splits (benchmarks/embed.md,
# "frames x size"); the appearance weight of the trained default's fused vector likewise
# (benchmarks/candidates.md).
APPEARANCE_FRAMES = 4
APPEARANCE_SIZE = 160
APPEARANCE_WEIGHT = 0.5  # cosine of the fused vector = weight * appearance + (1 - weight) * motion
APPEARANCE_WEIGHT_GRID = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8)  # "auto" picks one on the validation clips (fusion.py)
APPEARANCE_MOMENT_STEP = 5  # the built-in model samples moments every 5 frames at 25 fps (5 per second)

# --- moments (windows inside long videos) -------------------------------------------------------
MOMENTS_FIELD = "videorec_moments"  # TemporalDetections; the index is "<field>_sim", settings "<field>_settings"
MOMENT_WINDOW_S = 2.0  # seconds per moment
MOMENT_STRIDE_S = 1.0  # seconds between moment starts
MOMENT_CLIPS = 2  # clips averaged per moment (evenly spaced inside it)
MOMENT_SCORE_FIELD = "videorec_moment_score"  # the cosine score the App shows on each moment's tile

# --- near-duplicates (copy_detection.py; the threshold's evidence is benchmarks/duplicates.md) -------
DUPLICATE_THRESHOLD = 0.14  # copy distance (1 - aligned chamfer similarity) below which two videos are copies
DUPLICATE_GROUP_FIELD = "videorec_duplicate_group"  # group number 1, 2, ... of each near-duplicate
DUPLICATE_TAG = "duplicate"  # tag on every member of a near-duplicate group
DUPLICATE_DESCRIPTOR_FIELD = "videorec_copy_descriptor"  # per-frame copy descriptors, (frames, 320) float16
DUPLICATE_SAMPLES_PER_SECOND = 2.0  # descriptor rows per second of video
DUPLICATE_IMAGE_SIZE = 160  # pixels, the side of each frame the ImageNet network sees
DUPLICATE_CANDIDATES = 10  # nearest neighbours (by mean descriptor) of each video that get the aligned score

# --- ImageNet tags (imagenet_tags.py) ------------------------------------------------------------
IMAGENET_FIELD = "imagenet"  # fo.Classifications: each video's top ImageNet classes, for the App's sidebar
TAG_TOP = 3  # classes kept per video at most
TAG_MIN_CONFIDENCE = 0.2  # averaged probability a class needs to be kept
TAG_FRAMES = 4  # frames per video whose class probabilities are averaged
TAG_SIZE = 224  # pixels, the side the ImageNet classifier was trained at

# --- the App's "Similar videos" panel -----------------------------------------------------------
THUMBNAIL_SIZE = 160  # pixels, the side of each clip's still (its middle frame, letterboxed)
PANEL_K = 6  # clips the panel lists by default

# --- plugin ---------------------------------------------------------------------------------
PLUGIN_NAME = "@videorec/fiftyone-videorec"

# --- UCF101 download --------------------------------------------------------------
UCF101_ROOT_NAME = "ucf101"  # the subset lives in data_dir() / UCF101_ROOT_NAME / <split> / <Class>
UCF101_SPLIT_BY = "group"  # "group": no gXX group in two splits; "clip": the tutorial's plain random split
DOWNLOAD_WORKERS = 8  # connections at once when fetching zip members
DOWNLOAD_RETRIES = 4  # extra tries per member after a transient error (reset, timeout, 5xx)
DOWNLOAD_BACKOFF_S = 1.0  # first wait before a retry; doubles each time
HTTP_TIMEOUT_S = (10.0, 60.0)  # (connect, read) seconds for each HTTP request
