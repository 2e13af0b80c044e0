"""Lesson 07: the live pipeline in an ipywidgets Image, start / stop buttons, FPS."""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from .core import _display, widgets_enabled


def _jpeg(frame: np.ndarray, quality: int = 75) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"Could not encode a frame of shape {np.shape(frame)} as JPEG")
    return data.tobytes()


class LiveView:
    """The live pipeline in JupyterLab without OpenCV windows: an ipywidgets ``Image`` updated in
    place, Start and Stop buttons and the frame rate (lesson 07).

    Args:
        pipeline: a :class:`helpers.inference.EmotionPipeline` (``process(frame) -> (result, annotated)``).
        open_source: called at each start, returns a :class:`helpers.inference.FrameSource`
            (e.g. ``inference.open_camera``; a fresh source each time, because a source is closed
            at the end of a run).
        max_frames: stop after this many frames (None: until Stop or the source ends).

    :meth:`run` processes frames in the calling thread (what the notebook runs, with or without a
    frontend; in Colab the browser camera shows its own frames and Stop button). The Start button
    runs the same loop in a background thread, so that the Stop button stays clickable.
    """

    def __init__(self, pipeline, open_source: Callable[[], object], max_frames: int | None = None, every: int = 1):
        self.pipeline, self.open_source, self.max_frames = pipeline, open_source, max_frames
        self.every = max(1, int(every))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_done = 0
        self.last_result = None
        self.last_frame: np.ndarray | None = None
        self.error: BaseException | None = None
        self.widget = None

    def show(self):
        """Display Start / Stop, the frame and the FPS; returns the widget (None when widgets are off,
        and in Colab, where the browser camera shows the annotated frames and its own Stop button)."""
        from ..course import in_colab

        if not widgets_enabled() or in_colab():
            return None
        import ipywidgets as w

        self.image = w.Image(format="jpeg", width=480)
        self.start_button = w.Button(description="Start", icon="play", button_style="success")
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger", disabled=True)
        self.status = w.Label("press Start")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = w.VBox([w.HBox([self.start_button, self.stop_button, self.status]), self.image])
        self.widget.add_class("fer-live-view")
        _display(self.widget)
        return self.widget

    def _status(self, text: str) -> None:
        if self.widget is not None:
            self.status.value = text

    def run(self, max_frames: int | None = None, keep_every: int | None = None) -> list[np.ndarray]:
        """Process frames here until Stop, the source's end or ``max_frames``; returns the annotated
        frames kept every ``keep_every`` frames (none when None). The widget, if shown, follows."""
        limit = self.max_frames if max_frames is None else max_frames
        kept: list[np.ndarray] = []
        self._stop.clear()
        self.pipeline.reset()
        self.frames_done = 0
        if self.widget is not None:
            self.start_button.disabled, self.stop_button.disabled = True, False
        source = self.open_source()
        try:
            with source:
                for frame in source:
                    result, annotated = self.pipeline.process(frame)
                    source.show(annotated)  # Colab: back to the browser page; elsewhere nothing
                    self.frames_done += 1
                    self.last_result, self.last_frame = result, annotated
                    if self.widget is not None and self.frames_done % self.every == 0:
                        self.image.value = _jpeg(annotated)
                        fps = self.pipeline.fps_meter.fps
                        self._status(f"frame {self.frames_done}, {fps or 0:.1f} FPS, "
                                     + (", ".join(f"{f.label} {f.confidence:.0%}" for f in result.faces) or "no face"))
                    if keep_every and self.frames_done % keep_every == 0:
                        kept.append(annotated)
                    if self._stop.is_set() or (limit is not None and self.frames_done >= limit):
                        break
        finally:
            if self.widget is not None:
                self.start_button.disabled, self.stop_button.disabled = False, True
                self._status(f"stopped after {self.frames_done} frames, {self.pipeline.fps_meter.fps or 0:.1f} FPS")
        return kept

    def _run_safely(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # shown in the widget: a thread's exception is otherwise lost
            self.error = exc
            self._status(f"error: {exc}")

    def start(self) -> None:
        """Run :meth:`run` in a background thread (the Start button); does nothing if already running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.error = None
        self._thread = threading.Thread(target=self._run_safely, daemon=True, name="fer-live-view")
        self._thread.start()

    def stop(self, wait: float = 5.0) -> None:
        """Ask the loop to stop after the current frame (the Stop button), waiting up to ``wait`` s."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=wait)
