"""The report's HTML page: self-contained (every image embedded), and rendered by a real
headless Chromium (Debian's chromium; .ci/run installs it), which must load every image."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from report_helpers import FIXTURE_RUN, published_run, shared_data_reason

from bench.report.build import ReportConfig, build_report
from bench.report.grid import GridSelection

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no headless browser: chromium not on PATH (apt-get install "
                             "chromium; .ci/run does)")

# appended to a copy of the page: counts the images that decoded, once everything loaded
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-images", ok + "/" + imgs.length);
});
</script>"""


def _loaded(page, tmp_path) -> tuple[int, int]:
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "\n</body>"))
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
         "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'data-images="(\d+)/(\d+)"', proc.stdout)
    assert found, f"chromium rendered no result (rc {proc.returncode}): {proc.stderr[-2000:]}"
    return int(found.group(1)), int(found.group(2))


def test_page_is_self_contained(tmp_path):
    result = build_report([FIXTURE_RUN], tmp_path / "rep", ReportConfig(formats=("md",)))
    page = tmp_path / "rep" / "index.html"
    assert page in result.files
    text = page.read_text(encoding="utf-8")
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert len(srcs) == 5 and all(s.startswith("data:image/png;base64,") for s in srcs)
    # nothing loaded from elsewhere (a URL may be named in a note's text, never fetched)
    assert "<script" not in text and "<link" not in text
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text)
    assert "<b>14.88</b>" in text and "unavailable†" in text and "oracle (bound)" in text
    # the page keeps the long reasons behind the short notes: the paths and URLs are there
    assert "PCKh, FID: weights not provided." in text
    assert "looked in /home/user/.cache/torch/hub/checkpoints/" in text
    assert "https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth" in text
    assert "holds no generated images" in text  # the grid's skip note, on the page


@needs_chromium
def test_chromium_loads_every_image(tmp_path):
    if shared_data_reason() is None:
        run = published_run(tmp_path / "published")
        runs = [run]
        config = ReportConfig(formats=("md",), grid=GridSelection(method="pose", count=3))
        expected = 2  # metric bars and the grid
    else:
        runs, config, expected = [FIXTURE_RUN], ReportConfig(formats=("md",)), 5
    build_report(runs, tmp_path / "rep", config)
    page = tmp_path / "rep" / "index.html"
    assert _loaded(page, tmp_path) == (expected, expected)
    # the probe does see a broken image (a control: the check can fail)
    broken = tmp_path / "broken.html"
    broken.write_text(page.read_text().replace("data:image/png;base64,iVBOR",
                                               "data:image/png;base64,AAAA", 1))
    ok, total = _loaded(broken, tmp_path)
    assert (ok, total) == (expected - 1, expected)
