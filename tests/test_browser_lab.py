"""The course's widgets in a real browser: JupyterLab, headless Chromium, a slider moved by the mouse.

The test writes a small notebook into a temporary folder (the course's own widgets on recorded
numbers, so no TensorFlow has to load), starts JupyterLab there on a free port with a token,
opens the notebook in headless Chromium through playwright (``executable_path``: the system
Chromium; playwright's browser download is never used), runs every cell, then:

* drags the alpha slider of :func:`helpers.widgets.smoothing_explorer` and checks that the figure
  was redrawn (the image changes) and that the kernel received the new value;
* drags the threshold slider of :func:`helpers.widgets.threshold_explorer` and checks that the
  precision / recall table changed;
* presses Start in :class:`helpers.widgets.LiveView` (frames made from a sample photo) and
  checks that frames arrive in the image and the FPS line reports the run;
* clicks agree / wrong label / not a face in :class:`helpers.widgets.LabelReview` and checks the tally.

Screenshots of each widget go to ``runs/browser/`` (git-ignored; ``FER_BROWSER_ARTEFACTS``
overrides it). Skips, with the reason, when Chromium or playwright is not installed
(``.ci/run`` installs Chromium; playwright is pinned in requirements.txt).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import stop_process
from test_browser_camera import chromium_path

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = Path(os.environ.get("FER_BROWSER_ARTEFACTS", ROOT / "runs" / "browser"))

CELLS = [
    """import numpy as np
from helpers import widgets, inference
from helpers.data import Split

rng = np.random.default_rng(0)
first = np.tile(np.eye(7)[3] * 0.6 + 0.4 / 7, (20, 1))
second = np.tile(np.eye(7)[6] * 0.6 + 0.4 / 7, (20, 1))
recorded = np.clip(np.vstack([first, second]) + rng.normal(0, 0.08, (40, 7)), 0, None)
smoothing = widgets.smoothing_explorer(recorded, change_at=20, start=0.3)""",
    """y = rng.integers(0, 7, 300)
logits = rng.normal(size=(300, 7)) + 2.0 * np.eye(7)[y] * rng.uniform(0, 1.5, (300, 1))
probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
thresholds = widgets.threshold_explorer(Split("val", np.zeros((300, 48, 48, 1), np.uint8), y), probs)""",
    """class DrawOnly:
    '''The live pipeline's drawing stage alone (no model): enough to see frames arrive.'''
    def __init__(self):
        self.fps_meter = inference.FPSMeter()
    def reset(self):
        self.fps_meter = inference.FPSMeter()
    def process(self, frame):
        return inference.FrameResult([], {}, None), inference.draw_results(frame, [], self.fps_meter.tick())

photo = inference.sample_photos()["grace_hopper"]
frames = inference.jittered_frames(photo, n=30, size=(320, 240), seed=0)
live = widgets.LiveView(DrawOnly(), lambda: inference.ArraySource(frames))
live.show();""",
    """faces = rng.integers(0, 255, (3, 48, 48, 1)).astype(np.uint8)
review = widgets.LabelReview(faces, np.array([0, 1, 2]), np.eye(7)[[3, 6, 2]] * 0.9 + 0.1 / 7, indices=[0, 1, 2])
review.show();""",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free port, serving a temporary folder with the test notebook; yields (url, token)."""
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does this): browser test skipped")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements.txt)")
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed")
    pytest.importorskip("ipywidgets", reason="ipywidgets is not installed")
    folder = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "widgets.ipynb")
    news = folder / ".lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no "Jupyter news?" toast over the widgets
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               FER_WIDGETS="1", JUPYTER_CONFIG_DIR=str(folder / ".jupyter"), JUPYTERLAB_SETTINGS_DIR=str(folder / ".lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(folder / ".lab-workspaces"), JUPYTER_RUNTIME_DIR=str(folder / ".runtime"))
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--ServerApp.token={token}", f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.news_url=", "--ServerApp.disable_check_xsrf=False"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    log = open(folder / "jupyterlab.log", "w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("JupyterLab did not start:\n" + (folder / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url, token, exe
    finally:
        stop_process(server, timeout=15)
        log.close()


def drag(page, slider, fraction: float) -> None:
    """Drag the slider's handle by ``fraction`` of the track's width, with the mouse."""
    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-target").first.bounding_box()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + fraction * track["width"], y, steps=8)
    page.mouse.up()


def test_widgets_respond_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright

    url, token, exe = lab
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/lab/tree/widgets.ipynb?token={token}", timeout=60_000)
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')", timeout=60_000)
            # Run every cell once the kernel is there (the command waits for the session).
            page.wait_for_function("""() => { const w = window.jupyterapp.shell.currentWidget;
                return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel; }""",
                                   timeout=60_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

            # 1. smoothing: drag alpha, the figure is redrawn and the kernel has the new value
            smoothing = page.locator(".fer-smoothing-explorer")
            smoothing.wait_for(timeout=90_000)
            image = smoothing.locator("img").first
            page.wait_for_function("e => e.src && e.naturalWidth > 0", arg=image.element_handle(), timeout=30_000)
            smoothing.scroll_into_view_if_needed()
            smoothing.screenshot(path=str(ARTEFACTS / "smoothing_before.png"))
            before = image.get_attribute("src")
            readout = smoothing.locator(".widget-readout").first
            assert readout.inner_text().strip() == "0.30"
            drag(page, smoothing, 0.45)
            page.wait_for_function("([e, old]) => e.src !== old && e.naturalWidth > 0",
                                   arg=[image.element_handle(), before], timeout=30_000)
            after = readout.inner_text().strip()
            assert float(after) > 0.5, f"the slider should have moved right, reads {after}"
            smoothing.screenshot(path=str(ARTEFACTS / "smoothing_after.png"))

            # 2. thresholds: drag the threshold, the precision / recall table changes
            thresholds = page.locator(".fer-threshold-explorer")
            thresholds.wait_for(timeout=60_000)
            thresholds.scroll_into_view_if_needed()
            table = thresholds.locator("table.fer-thresholds")
            table.wait_for(timeout=30_000)
            old_table = table.inner_text()
            plot = thresholds.locator("img").first
            old_plot = plot.get_attribute("src")
            thresholds.screenshot(path=str(ARTEFACTS / "thresholds_before.png"))
            drag(page, thresholds.locator(".widget-slider").first, 0.3)
            page.wait_for_function("([e, old]) => e.innerText !== old", arg=[table.element_handle(), old_table],
                                   timeout=30_000)
            page.wait_for_function("([e, old]) => e.src !== old && e.naturalWidth > 0",
                                   arg=[plot.element_handle(), old_plot], timeout=30_000)
            chosen = float(thresholds.locator(".widget-readout").first.inner_text())
            angry = table.locator("tbody tr").first.inner_text()
            assert chosen > 0.6 and angry.split()[:2] == ["angry", f"{chosen:.3f}"], (chosen, angry)
            thresholds.screenshot(path=str(ARTEFACTS / "thresholds_after.png"))

            # 3. live view: Start, frames arrive in the image, the status line reports the run
            live = page.locator(".fer-live-view")
            live.wait_for(timeout=60_000)
            live.scroll_into_view_if_needed()
            live.locator("button", has_text="Start").click()
            status = live.locator(".widget-label").first
            page.wait_for_function("e => e.innerText.includes('stopped after 30 frames')", arg=status.element_handle(),
                                   timeout=60_000)
            frame = live.locator("img").first
            assert frame.get_attribute("src"), "no frame reached the image"
            live.screenshot(path=str(ARTEFACTS / "live_view.png"))

            # 4. label review: three clicks, the tally follows and the buttons switch off
            review = page.locator(".fer-label-review")
            review.wait_for(timeout=60_000)
            review.scroll_into_view_if_needed()
            review.screenshot(path=str(ARTEFACTS / "label_review_start.png"))
            caption = review.locator(".widget-html").first
            for choice, seen in (("wrong label", "face 2 of 3"), ("not a face", "face 3 of 3"), ("agree", "All 3 faces")):
                review.locator("button", has_text=choice).click()
                page.wait_for_function("([e, text]) => e.innerText.includes(text)", arg=[caption.element_handle(), seen],
                                       timeout=30_000)
            assert "agree: 1, wrong label: 1, not a face: 1" in caption.inner_text()
            assert review.locator("button", has_text="agree").is_disabled()
            review.screenshot(path=str(ARTEFACTS / "label_review_done.png"))
        except Exception:
            page.screenshot(path=str(ARTEFACTS / "failure.png"))
            raise
        finally:
            page.screenshot(path=str(ARTEFACTS / "lab.png"))
            browser.close()
    print(f"browser part: {time.monotonic() - t0:.1f} s; screenshots in {ARTEFACTS}")
