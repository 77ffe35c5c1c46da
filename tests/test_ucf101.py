"""The UCF101 subset: choosing clips, fetching them over HTTP Range, the import, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from fiftyone_videorec import config
from fiftyone_videorec.cli.main import main
from fiftyone_videorec.data.ucf101 import UcfClip, choose_subset, parse_member_name
from fiftyone_videorec.errors import VideorecError
from tests.ucf_server import RangeServer, build_ucf_zip, free_port

# Real UCF101 class names (the first ten, sorted, are what the seed ends up with) plus two more.
CLASSES = ["ApplyEyeMakeup", "ApplyLipstick", "Archery", "BabyCrawling", "BalanceBeam", "BandMarching",
           "BaseballPitch", "Basketball", "BasketballDunk", "BenchPress", "Biking", "Billiards"]
GROUP_SIZES = [2, 3, 2, 4, 2, 3]  # uneven, like UCF101's 4-7 clips per group


def _clips(classes=CLASSES, groups=GROUP_SIZES) -> list[UcfClip]:
    return [UcfClip(label, f"g{g:02d}", c, f"UCF101/v_{label}_g{g:02d}_c{c:02d}.avi")
            for label in classes for g, n in enumerate(groups, 1) for c in range(1, n + 1)]


def _groups_by_split(subset) -> dict[str, set[tuple[str, str]]]:
    return {name: {(clip.label, clip.group) for clip in part} for name, part in subset.items()}


# --- choosing the subset (no network) ------------------------------------------------------------
def test_member_names_parse_into_class_group_and_clip():
    assert parse_member_name("UCF101/v_ApplyEyeMakeup_g08_c03.avi") == UcfClip(
        "ApplyEyeMakeup", "g08", 3, "UCF101/v_ApplyEyeMakeup_g08_c03.avi")
    assert parse_member_name("v_YoYo_g25_c04.AVI").label == "YoYo"
    for odd in ("UCF101/", "UCF101/ApplyEyeMakeup_g08_c03.avi", "UCF101/v_Apply_Eye_g08_c03.avi",
                "UCF101/v_ApplyEyeMakeup_g08_c03.mp4", "UCF101/v_ApplyEyeMakeup_gxx_c03.avi"):
        assert parse_member_name(odd) is None


def test_default_is_the_first_ten_classes_with_exact_30_10_10_style_counts():
    subset = choose_subset(_clips(), per_class=10, split="6,2,2")
    for name, want in zip(config.SPLITS, (6, 2, 2)):
        per_class = Counter(clip.label for clip in subset[name])
        assert list(per_class) == CLASSES[:10] and set(per_class.values()) == {want}
    assert choose_subset(_clips(), per_class=5)["train"].__len__() == 10 * 3  # 5 -> 3/1/1 by default


def test_group_aware_split_never_puts_a_group_in_two_splits():
    for seed in range(20):
        subset = choose_subset(_clips(), num_classes=12, per_class=12, split=(8, 2, 2), seed=seed)
        train, val, test = _groups_by_split(subset).values()
        assert not (train & val or train & test or val & test)
        assert Counter(c.label for c in subset["train"]) == {label: 8 for label in CLASSES}


def test_clip_split_is_plain_random_and_mixes_groups():
    shared = 0
    for seed in range(10):
        subset = choose_subset(_clips(), per_class=12, split=(8, 2, 2), split_by="clip", seed=seed)
        assert [len(subset[n]) for n in config.SPLITS] == [80, 20, 20]
        train, val, test = _groups_by_split(subset).values()
        shared += len(train & (val | test))
    assert shared > 0  # without the group constraint, groups do straddle splits


def test_same_seed_same_files_other_seed_other_files_and_classes_independent():
    first = choose_subset(_clips(), num_classes=4, per_class=5, seed=7)
    assert first == choose_subset(list(reversed(_clips())), num_classes=4, per_class=5, seed=7)
    assert first != choose_subset(_clips(), num_classes=4, per_class=5, seed=8)
    wider = choose_subset(_clips(), num_classes=6, per_class=5, seed=7)
    for name in config.SPLITS:  # adding classes leaves the others' clips alone
        assert [c for c in wider[name] if c.label in CLASSES[:4]] == first[name]
    named = choose_subset(_clips(), classes="Archery,ApplyLipstick", per_class=5, seed=7)
    assert {c.label for c in named["train"]} == {"Archery", "ApplyLipstick"}
    assert [c for c in named["val"] if c.label == "Archery"] == [c for c in first["val"] if c.label == "Archery"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(classes=["ApplyEyeMakup"]), "class 'ApplyEyeMakup' is not in the archive; did you mean ApplyEyeMakeup?"),
    (dict(classes="Archery,Zumba"), "class 'Zumba' is not in the archive; it has ApplyEyeMakeup, "),
    (dict(num_classes=13, per_class=5), "the archive has 12 classes; 13 were asked for"),
    (dict(per_class=17), "17 clips per class asked for, but ApplyEyeMakeup has 16"),
    (dict(per_class=10, split="5,2,2"), "split 5/2/2 adds up to 9, not to the 10 clips per class"),
    (dict(split="5,2"), "expected three counts train,val,test"),
    (dict(split="a,b,c"), "expected three whole numbers"),
    (dict(split=(0, 2, 2)), "train > 0"),
    (dict(split=(13, 1, 1)), "cannot give 13/1/1 with no group in two splits; lower --per-class or use "
                             "--split-by clip"),
    (dict(per_class=5, split_by="actor"), "split_by must be one of group, clip"),
])
def test_requests_the_archive_cannot_satisfy_give_one_clear_line(kwargs, message):
    with pytest.raises(VideorecError) as error:
        choose_subset(_clips(), **kwargs)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_clip_split_satisfies_what_the_group_split_cannot():
    subset = choose_subset(_clips(), per_class=15, split=(13, 1, 1), split_by="clip")
    assert [len(subset[n]) for n in config.SPLITS] == [130, 10, 10]


def test_group_search_backtracks_to_reach_exact_counts():
    import random

    from fiftyone_videorec.data.splits import split_by_group

    groups = {"g01": list("abcd"), "g02": list("efg"), "g03": list("hij")}
    for seed in range(30):  # only {g02, g03} -> train and g01 -> val works, whatever the shuffle
        train, val, test = split_by_group(groups, (6, 4, 0), random.Random(seed))
        assert sorted(train) == list("efghij") and sorted(val) == list("abcd") and test == []
    assert split_by_group(groups, (5, 5, 0), random.Random(0)) is None


# --- the CLI on bad input: one line, exit 2, nothing written --------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A folder of zips on a Range server: a UCF101-shaped one and several broken ones."""
    folder = tmp_path_factory.mktemp("served")
    good = build_ucf_zip(folder / "UCF101_videos.zip", CLASSES, groups_per_class=len(GROUP_SIZES),
                         clips_per_group=GROUP_SIZES, frames=12, size=(48, 32))
    (folder / "page.zip").write_text("<!DOCTYPE html><html>moved</html>" * 40)
    (folder / "cut.zip").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    build_ucf_zip(folder / "oddnames.zip", ["Archery"], 1, 2, extra_members={"videos/clip1.avi": b"RIFF"})
    build_ucf_zip(folder / "evil.zip", ["Archery"], 1, 2, extra_members={"UCF101/../../v_Evil_g01_c01.avi": b"x"})
    build_ucf_zip(folder / "absolute.zip", ["Archery"], 1, 2, extra_members={"/tmp/v_Evil_g01_c01.avi": b"x"})
    with RangeServer(folder) as server, RangeServer(folder, ignore_range=True) as ignoring:
        yield {"server": server, "ignoring": ignoring, "zip": good}


BAD_INPUT = [
    ("unreachable", [], "cannot reach http://127.0.0.1:"),
    ("ignoring", [], "the server ignores HTTP Range requests (answered 200 instead of 206); refusing"),
    ("page.zip", [], "is not a zip archive (it starts with b'<!DO')"),
    ("cut.zip", [], "starts like a zip but its directory is missing or damaged (truncated download?"),
    ("missing.zip", [], "answered HTTP 404 Not Found"),
    ("oddnames.zip", [], "1 .avi members are not named like UCF101/v_<Class>_g<GG>_c<CC>.avi (e.g. 'videos/clip1.avi')"),
    ("evil.zip", [], "would write outside the target folder (1, e.g. 'UCF101/../../v_Evil_g01_c01.avi')"),
    ("absolute.zip", [], "would write outside the target folder (1, e.g. '/tmp/v_Evil_g01_c01.avi')"),
    ("UCF101_videos.zip", ["--classes", "Archery,BabyCrawlin"], "class 'BabyCrawlin' is not in the archive; "
                                                                "did you mean BabyCrawling?"),
    ("UCF101_videos.zip", ["--per-class", "20"], "20 clips per class asked for, but ApplyEyeMakeup has 16"),
    ("UCF101_videos.zip", ["--per-class", "10", "--split", "6,2,1"], "split 6/2/1 adds up to 9, not to the 10"),
    ("UCF101_videos.zip", ["--split", "6,2"], "expected three counts train,val,test"),
    ("UCF101_videos.zip", ["--split", "13,1,1"], "cannot give 13/1/1 with no group in two splits"),
    ("UCF101_videos.zip", ["--classes", "Archery", "--num-classes", "3"], "give --classes or --num-classes, not both"),
    ("UCF101_videos.zip", ["--num-classes", "20", "--per-class", "5"], "the archive has 12 classes; 20 were asked for"),
]


@pytest.mark.parametrize("where, extra, message", BAD_INPUT, ids=[f"{w}{' '.join(e)}" for w, e, _ in BAD_INPUT])
def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(served, where, extra, message, tmp_path,
                                                                 dataset_name, capsys):
    import fiftyone as fo

    if where == "unreachable":
        url = f"http://127.0.0.1:{free_port()}/UCF101_videos.zip"
    elif where == "ignoring":
        url = served["ignoring"].url("UCF101_videos.zip")
    else:
        url = served["server"].url(where)
    root = tmp_path / "root"
    status = main(["load", "ucf101", "--url", url, "--root", str(root), "--dataset", dataset_name,
                   "--no-reencode", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith("videorec: error: ") and message in err[0], err
    assert not root.exists() and not fo.dataset_exists(dataset_name)


# --- fetching and importing for real ----------------------------------------------------------------
def _codec(path: str) -> str:
    return subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=codec_name", "-of", "csv=p=0", path],
                          capture_output=True, text=True, check=True).stdout.strip()


def _member_requests(server: RangeServer) -> list:
    return [r for r in server.requests if r.range and r.range not in ("bytes=0-3", "bytes=-65536")]


def test_load_ucf101_resumes_then_imports_the_subset_once(served, tmp_path, dataset_name, monkeypatch, request):
    import fiftyone as fo

    from fiftyone_videorec.data.remote_zip import ZipSource
    from fiftyone_videorec.data.ucf101 import list_clips, load_ucf101

    monkeypatch.setattr(config, "DOWNLOAD_BACKOFF_S", 0.01)
    monkeypatch.setattr(config, "DOWNLOAD_RETRIES", 1)
    server, zip_size = served["server"], served["zip"].stat().st_size
    url, root = server.url("UCF101_videos.zip"), tmp_path / "ucf101"
    options = dict(url=url, num_classes=3, split="3,1,1", seed=5, root=root)
    with ZipSource(url) as source:
        chosen = choose_subset(list_clips(source), num_classes=3, split="3,1,1", seed=5)
        needed = sum(source._ends[c.member] - source.member(c.member).header_offset
                     for part in chosen.values() for c in part)

    server.reset_counters()
    request.addfinalizer(server.start)  # whatever happens, the shared server comes back
    server.stop_after(65540 + needed // 2)  # the directory, then half of the clips
    with pytest.raises(VideorecError, match="run again to resume"):
        load_ucf101(dataset_name, **options)
    assert not fo.dataset_exists(dataset_name) and not list(root.rglob("*.part")) and not list(root.rglob("*.mp4"))
    kept = {p.name for p in root.rglob("*.avi")}
    assert 0 < len(kept) < 15

    server.start()
    server.reset_counters()
    dataset = load_ucf101(dataset_name, **options)
    refetched = {r.range for r in _member_requests(server)}
    assert len(refetched) == 15 - len(kept)  # nothing complete fetched twice
    print(f"zip {zip_size} B; second run {server.bytes_sent} B over {len(server.requests)} requests")

    assert len(dataset) == 15 and dataset.media_type == "video"
    assert dataset.count_sample_tags() == {"train": 9, "val": 3, "test": 3}
    assert sorted(dataset.distinct(f"{config.LABEL_FIELD}.label")) == CLASSES[:3]
    splits_of_group: dict[tuple, set] = {}
    for sample in dataset:
        label, tag = sample[config.LABEL_FIELD].label, sample.tags[0]
        original = Path(sample[config.ORIGINAL_PATH_FIELD])
        name = f"v_{label}_{sample[config.GROUP_FIELD]}_c{sample[config.CLIP_FIELD]:02d}"
        assert original == root / tag / label / f"{name}.avi" and original.is_file()
        assert sample.filepath == str(original.with_suffix(".mp4")) and _codec(sample.filepath) == "h264"
        assert sample[config.SOURCE_FIELD] == f"{url}#UCF101/{name}.avi"
        assert sample.metadata.total_frame_count == 12 and sample.metadata.frame_width == 48
        splits_of_group.setdefault((label, sample[config.GROUP_FIELD]), set()).add(tag)
    assert all(len(tags) == 1 for tags in splits_of_group.values())  # no group in two splits
    assert {(c.label, c.group, c.clip) for part in chosen.values() for c in part} == {
        (s[config.LABEL_FIELD].label, s[config.GROUP_FIELD], s[config.CLIP_FIELD]) for s in dataset}

    mp4_times = {p: p.stat().st_mtime_ns for p in root.rglob("*.mp4")}
    server.reset_counters()
    again = load_ucf101(dataset_name, **options)  # same load again: nothing fetched, encoded or added
    assert len(again) == 15 and not _member_requests(server)
    assert mp4_times == {p: p.stat().st_mtime_ns for p in root.rglob("*.mp4")}


@pytest.mark.pipeline
def test_cli_load_ucf101_end_to_end(served, tmp_path, dataset_name):
    import fiftyone as fo

    server = served["server"]
    server.reset_counters()
    root = tmp_path / "ucf"
    command = [sys.executable, "-m", "fiftyone_videorec", "load", "ucf101", "--url",
               server.url("UCF101_videos.zip"), "--num-classes", "2", "--split", "2,1,1", "--seed", "3",
               "--root", str(root), "--dataset", dataset_name]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"dataset '{dataset_name}': 8 clips (train 4, val 2, test 2)" in done.stdout
    assert server.bytes_sent < served["zip"].stat().st_size / 3
    dataset = fo.load_dataset(dataset_name)
    assert sorted(dataset.distinct(f"{config.LABEL_FIELD}.label")) == CLASSES[:2]
    assert {_codec(path) for path in dataset.values("filepath")} == {"h264"}
    assert json.loads(json.dumps(dataset.info["ucf101"]))["split"] == [2, 1, 1]
    again = subprocess.run(command + ["--overwrite"], capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert again.returncode == 0 and len(fo.load_dataset(dataset_name)) == 8
