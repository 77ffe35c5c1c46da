"""import_records: tags, labels, fields, metadata, no duplicates on re-run, overwrite; transcode."""

from __future__ import annotations

import json
import subprocess

import pytest

from fiftyone_videorec import config
from fiftyone_videorec.data.importer import VideoRecord, import_records
from fiftyone_videorec.data.transcode import transcode_many
from fiftyone_videorec.data.video_files import ffmpeg_convert, write_video
from fiftyone_videorec.errors import VideorecError


def test_import_and_rerun(synthetic_root, dataset_name):
    files = sorted(synthetic_root.rglob("*.mp4"))[:5]
    recs = [VideoRecord(str(f), label=f.parent.name, split=f.parent.parent.name,
                        fields={config.GROUP_FIELD: i, config.SOURCE_FIELD: "t"}) for i, f in enumerate(files)]
    ds = import_records(recs, dataset_name)
    assert len(ds) == 5 and ds.persistent and ds.media_type == "video"
    s = ds.first()
    assert s.ground_truth.label == files[0].parent.name and files[0].parent.parent.name in s.tags
    assert s[config.GROUP_FIELD] == 0 and s.metadata.total_frame_count > 0
    assert len(import_records(recs, dataset_name)) == 5  # nothing twice
    assert len(import_records(recs[:2], dataset_name, overwrite=True)) == 2


def test_synthetic_dataset_fixture(synthetic_dataset):
    from tests.fixtures_data import SYNTH_OPTIONS

    tags = synthetic_dataset.count_sample_tags()
    n = SYNTH_OPTIONS["num_classes"]
    assert [tags[t] for t in config.SPLITS] == [x * n for x in SYNTH_OPTIONS["split"]]
    assert len(set(synthetic_dataset.values(config.GROUP_FIELD))) == len(synthetic_dataset)


def test_transcode_h264_and_errors(tmp_path):
    src = write_video(tmp_path / "a.avi", fourcc="MJPG")
    bad = tmp_path / "b.avi"
    bad.write_text("nope")
    res = transcode_many([(src, tmp_path / "out" / "a.mp4"), (bad, tmp_path / "out" / "b.mp4")], show_bar=False)
    assert res[src] is None and res[bad] and "\n" not in res[bad]
    assert not (tmp_path / "out" / "b.mp4").exists()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files left
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,pix_fmt",
                                      "-of", "json", str(tmp_path / "out" / "a.mp4")],
                                     capture_output=True, text=True).stdout)["streams"][0]
    assert info == {"codec_name": "h264", "pix_fmt": "yuv420p"}
    mtime = (tmp_path / "out" / "a.mp4").stat().st_mtime_ns
    transcode_many([(src, tmp_path / "out" / "a.mp4")], show_bar=False)  # up to date: skipped
    assert (tmp_path / "out" / "a.mp4").stat().st_mtime_ns == mtime


def test_a_failed_ffmpeg_run_is_one_line_and_leaves_no_file(tmp_path):
    bad = tmp_path / "bad.avi"
    bad.write_text("nope")
    with pytest.raises(VideorecError) as error:
        ffmpeg_convert(bad, tmp_path / "out" / "x.mp4", "-c:v", "libx264")
    assert str(error.value).startswith("ffmpeg could not make x.mp4: ") and "\n" not in str(error.value)
    assert list((tmp_path / "out").iterdir()) == []
