"""The demo (load → train → embed → index → evaluate → report) and its HTML report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app import chromium_page
from tests.ucf_server import RangeServer, build_ucf_zip

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_report(page_path: Path) -> None:
    """Every image the page references exists beside it and is a real PNG; the page has the sections."""
    text = page_path.read_text()
    images = re.findall(r"<img src='([^']+)'", text)
    assert len(images) >= 8, images  # precision, map, curves, confusion, query + match strips
    for name in images:
        image = page_path.parent / name
        assert image.is_file(), name
        assert image.read_bytes()[:8] == PNG_MAGIC, name
    for section in ("Training", "Retrieval quality", "Embeddings map", "Per class", "Example recommendations"):
        assert f"<h2>{section}</h2>" in text
    assert "cosine" in text and "chance" in text


@pytest.mark.pipeline
def test_demo_ucf101_path_end_to_end_on_a_loopback_zip(tmp_path, artifacts_dir):
    """`videorec demo --source ucf101 --url <loopback zip>` runs every stage and writes the report."""
    build_ucf_zip(tmp_path / "srv" / "UCF101_videos.zip", ["Archery", "Basketball", "Diving"],
                  groups_per_class=6, clips_per_group=1, frames=24, size=(48, 36))
    out = tmp_path / "report"
    with RangeServer(tmp_path / "srv") as server:
        cmd = [sys.executable, "-m", "fiftyone_videorec", "demo", "--source", "ucf101",
               "--url", server.url("UCF101_videos.zip"), "--dataset", "demo-ucf-test",
               "--num-classes", "3", "--per-class", "6", "--split", "4,1,1",
               "--preset", "tiny", "--epochs", "2", "--out", str(out)]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        for i, stage in enumerate(("load", "pretrained", "train", "embed", "index", "evaluate", "report"), start=1):
            assert any(line.startswith(f"[{i}/7] {stage}") and line.endswith(" s)") for line in lines), result.stdout
        assert re.search(r"pretrained +ImageNet features, no training: P@1 [0-9.]+ \(chance [0-9.]+\)", result.stdout)
        assert re.search(r"evaluate +trained model: P@1 [0-9.]+ \(chance [0-9.]+\)", result.stdout)
        assert "ucf101 → dataset 'demo-ucf-test': 18 clips train=12 val=3 test=3" in result.stdout

        # Re-running reuses every stage's result.
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reusing the model" in again.stdout and "already have" in again.stdout
    assert "reusing brain key" in again.stdout

    page = out / "index.html"
    _check_report(page)
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["precision@5"] <= 1 and "chance_precision@5" in metrics


def test_report_opens_in_chromium_without_errors(tmp_path, synthetic_dataset, tiny_model_dir, artifacts_dir):
    """The report of a tiny trained model renders in headless Chromium with every image loaded."""
    from fiftyone_videorec.embedding.run import embed_dataset
    from fiftyone_videorec.report import write_report
    from fiftyone_videorec.search.similarity import build_index

    dataset = synthetic_dataset.clone()
    embed_dataset(dataset, tiny_model_dir)
    build_index(dataset, brain_key="report_sim")
    page_path = write_report(dataset.name, "report_sim", out_dir=tmp_path / "report", n_examples=2)
    _check_report(page_path)
    with chromium_page() as page:
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
        assert broken == 0
        assert page.errors == []
        page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)


def test_report_on_a_missing_index_is_one_line():
    result = subprocess.run([sys.executable, "-m", "fiftyone_videorec", "report", "--dataset", "no-such-ds"],
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr
