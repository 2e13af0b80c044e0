"""The Colab browser-camera path, run for real in headless Chromium with a fake camera.

A page on 127.0.0.1 plays the part of Colab's output frame: it long-polls the test's server for
JavaScript, evaluates it (awaiting promises, like ``google.colab.output.eval_js``) and POSTs the
result back. :class:`helpers.inference.ColabCamera` then runs unchanged, with that bridge as its
``eval_js``: the same :data:`CAPTURE_JS`, the same snapshot and streaming code as in Colab.
Chromium's ``--use-fake-device-for-media-stream`` supplies a moving test pattern as the camera.

Skips (with the reason) only where Chromium is not installed; `.ci/run` installs it.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from conftest import stop_process

from helpers import inference

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>fer camera test</title></head><body>
<script>
(async () => {
  for (;;) {
    const script = await (await fetch('/script', {cache: 'no-store'})).text();
    if (script === '__quit__') break;
    let value;
    try { value = await (0, eval)(script); } catch (e) { value = 'JS-ERROR: ' + e; }
    await fetch('/result', {method: 'POST', body: String(value)});
  }
})();
</script></body></html>"""


def chromium_path() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name) if not os.path.isabs(name) else (name if os.access(name, os.X_OK) else None)
        if path:
            return path
    return None


class Bridge:
    """``eval_js`` for the tests: runs JavaScript in the Chromium page, returns the awaited value."""

    def __init__(self) -> None:
        self.scripts: queue.Queue[str] = queue.Queue()
        self.results: queue.Queue[str] = queue.Queue()
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _send(self, body: bytes, kind: str = "text/plain") -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/script":
                    try:
                        script = bridge.scripts.get(timeout=60)
                    except queue.Empty:
                        script = "__quit__"
                    self._send(script.encode())
                else:
                    self._send(PAGE.encode(), "text/html")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                bridge.results.put(body)
                self._send(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __call__(self, script: str, timeout: float = 30):
        self.scripts.put(script)
        try:
            value = self.results.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("Chromium did not answer (no page, or the script hung)") from None
        if value.startswith("JS-ERROR:"):
            raise RuntimeError(value)
        return value

    def close(self) -> None:
        self.scripts.put("__quit__")
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does this): browser-camera test skipped")
    bridge = Bridge()
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--mute-audio", f"--user-data-dir={profile}",
         bridge.url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert bridge("1 + 1", timeout=60) == "2", "the page does not evaluate JavaScript"
        yield bridge
    finally:
        bridge.close()
        stop_process(proc, timeout=10)


def test_snapshot_returns_a_frame_of_the_requested_size(browser):
    camera = inference.ColabCamera(width=320, height=240, quality=0.9, eval_js=browser)
    frame = camera.snapshot()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert frame.std() > 5, "the fake camera's test pattern should not be a flat image"
    assert browser("String(!!window.ferCamera.video)") == "false", "snapshot must stop the camera"


def test_streaming_loop_runs_the_pipeline_and_shows_annotated_frames(browser):
    camera = inference.ColabCamera(width=640, height=480, quality=0.7, max_frames=4, eval_js=browser)
    shapes = []
    with camera:
        for frame in camera:
            shapes.append(frame.shape)
            camera.show(inference.draw_results(frame, [], fps=12.0))
            if len(shapes) == 3:  # the annotated frame went back with the previous capture
                assert browser("ferCamera.shown.src.slice(0, 23)") == "data:image/jpeg;base64,"
    assert shapes == [(480, 640, 3)] * 4
    assert browser("String(window.ferCamera.stopped)") == "true", "close() must stop the camera"


def test_stop_button_ends_the_stream(browser):
    camera = inference.ColabCamera(width=160, height=120, eval_js=browser)
    frames = iter(camera)
    assert next(frames).shape == (120, 160, 3)
    browser("document.querySelector('button').click(); true")  # the user presses "Stop camera"
    assert list(frames) == []
