"""Command line for the live expression pipeline of lesson 07.

    python -m helpers.webcam --source 0                       # webcam 0, in a window (q / Esc quits)
    python -m helpers.webcam --source clip.mp4 --output annotated.mp4 --no-window
    python -m helpers.webcam --source photos/ --output annotated/   # every image in a folder
    python -m helpers.webcam --source face.jpg --model runs/05_training/best.keras

The model is ``--model PATH`` (a ``.keras`` file, loaded with ``safe_mode``), else the course's
pretrained model (``helpers.pretrained``) when this checkout has it. Without a display (a server,
Docker, opencv-python-headless) nothing is shown: the annotated frames are written to ``--output``
(default ``webcam_output.mp4`` for a camera or video, ``webcam_output/`` for images). Ctrl+C stops
cleanly and releases the camera.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from . import inference
from .data import IMAGE_SUFFIXES

WINDOW = "FER course: expressions (q to quit)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.webcam",
        description="Detect faces and classify their expressions live (lesson 07's pipeline).",
    )
    parser.add_argument("--source", default="0", help="camera index (0), a video file, an image file or a folder of images")
    parser.add_argument("--model", default=None, help="a .keras model (default: the course's pretrained model)")
    parser.add_argument("--output", default=None, help="write annotated output: a video (.mp4/.avi), an image file, or a folder")
    parser.add_argument("--no-window", action="store_true", help="do not open a window (headless)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--alpha", type=float, default=0.3, help="smoothing: weight of the newest frame (1 = none)")
    parser.add_argument("--margin", type=float, default=0.1, help="crop margin around each face (fraction per side)")
    parser.add_argument("--detect-size", type=int, default=640,
                        help="video: longer side of the frame used for detection (images are searched at full resolution)")
    parser.add_argument("--flip-tta", action="store_true",
                        help="video too: classify each face and its mirror image (the model's own test-time augmentation; "
                             "twice the cost per face; always on for photos)")
    parser.add_argument("--classify-every", type=int, default=2,
                        help="while the same faces are followed, classify them every N frames and keep their last "
                             "probabilities in between (1: every frame; photos: always every image)")
    parser.add_argument("--redetect-every", type=int, default=12, help="while faces are tracked, a face search every N frames (1: a full detection on every frame, no tracking)")
    return parser


def display_available() -> bool:
    """True when OpenCV can open a window here (a GUI build of OpenCV and a display)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
        return True
    except cv2.error:  # opencv-python-headless has no GUI
        return False


class OutputWriter:
    """Writes annotated frames to a video file, an image file, or a folder (one image per frame)."""

    def __init__(self, target: str | os.PathLike, fps: float = 15.0):
        self.target = Path(target)
        self.fps = fps
        self.kind = (
            "video" if self.target.suffix.lower() in inference.VIDEO_SUFFIXES
            else "image" if self.target.suffix.lower() in IMAGE_SUFFIXES
            else "folder"
        )
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None
        self.count = 0
        self.written: set[Path] = set()
        if self.kind == "folder":
            self.target.mkdir(parents=True, exist_ok=True)
        else:
            self.target.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: np.ndarray, name: str) -> Path:
        if self.kind == "video":
            if self.writer is None:
                self.size = (frame.shape[1], frame.shape[0])
                fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.target.suffix.lower() == ".avi" else "mp4v"))
                self.writer = cv2.VideoWriter(str(self.target), fourcc, self.fps, self.size)
                if not self.writer.isOpened():
                    raise RuntimeError(f"Cannot write video {self.target} (codec missing?): use .avi or a folder")
            if (frame.shape[1], frame.shape[0]) != self.size:
                frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
            self.writer.write(frame)
            path = self.target
        else:
            if self.kind == "image":
                path = self.target if self.count == 0 else self.target.with_name(f"{self.target.stem}_{self.count:05d}{self.target.suffix}")
            else:
                path = self.target / f"{name}.jpg"
            stem, n = path.stem, 1
            while path in self.written:  # two inputs never overwrite each other's output
                n += 1
                path = path.with_name(f"{stem}_{n}{path.suffix}")
            self.written.add(path)
            if not cv2.imwrite(str(path), frame):
                raise RuntimeError(f"Cannot write {path}")
        self.count += 1
        return path

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


def describe(result: inference.FrameResult) -> str:
    if not result.faces:
        return "no face"
    return ", ".join(f"{f.label} {f.confidence:.0%} at {f.box}" for f in result.faces)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        source = inference.open_source(args.source)
    except (FileNotFoundError, ValueError, inference.CameraUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    images = isinstance(source, inference.ImageSource)
    if images and len(source) == 1:
        try:  # one photo: refuse a broken or oversized file before loading the model (header only)
            source.check()
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    try:
        model = inference.default_model(args.model)
        # a photo is searched at its own resolution for every face; video frames fast, for a live view
        detector = inference.PhotoFaceDetector() if images else inference.FaceDetector(detect_size=args.detect_size)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        source.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if images:
        source.on_error = "skip"  # report unreadable files, carry on with the others
    # Unrelated photos: no smoothing or tracking across them.
    pipeline = inference.EmotionPipeline(
        model, detector, margin=args.margin, alpha=1.0 if images else args.alpha,
        redetect_every=1 if images else args.redetect_every, flip_tta=images or args.flip_tta,
        classify_every=1 if images else args.classify_every,
    )
    window = not args.no_window and display_available()
    output = args.output
    if output is None and not window:
        output = "webcam_output/" if images else "webcam_output.mp4"
        print(f"No window ({'--no-window' if args.no_window else 'no display or a headless OpenCV'}): "
              f"writing the annotated frames to {output}")
    writer = OutputWriter(output, fps=source.fps or 15.0) if output else None
    served = pipeline.classifier.model
    tta = "" if served is model else f" (its network {served.name!r} alone: live video skips the flip TTA; --flip-tta keeps it)"
    print(f"Source: {source.name}. Model: {getattr(model, 'name', '?')}{tta}." + (" Press q or Esc to quit." if window else ""))

    n = 0
    try:
        for name, frame in source.named_frames():
            if images:
                pipeline.reset()
            result, annotated = pipeline.process(frame)
            n += 1
            if writer is not None:
                writer.write(annotated, name)
            if images:
                print(f"{name}: {describe(result)}")
            elif n % 30 == 0:
                print(f"frame {n}: {result.fps or 0:.1f} FPS, {describe(result)}")
            if window:
                cv2.imshow(WINDOW, annotated)
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
            if args.max_frames and n >= args.max_frames:
                break
    except KeyboardInterrupt:
        print("Stopped (Ctrl+C).")
    finally:
        source.close()
        if writer is not None:
            writer.close()
        if window:
            cv2.destroyAllWindows()

    if n and pipeline.history:
        table = pipeline.timing_table(skip=1 if n > 1 else 0)
        stages = ", ".join(f"{s} {table.loc[s, 'mean']:.1f}" for s in inference.STAGES)
        print(f"{n} frame(s); mean ms per stage: {stages}; total {table.loc['total', 'mean']:.1f} ms")
    if writer is not None and writer.count:
        print(f"Annotated output: {writer.target}")
    ignored = getattr(source, "ignored", [])
    if ignored:
        print(f"note: {len(ignored)} file(s) in the folder are not images and were not read: {', '.join(ignored)}")
    errors = getattr(source, "errors", [])
    if len(errors) == 1 and len(source) == 1:
        print(f"error: Cannot read {errors[0][0]}: {errors[0][1]}", file=sys.stderr)
    elif errors:
        rest = " (the others were processed)" if n else ""
        print(f"error: {len(errors)} of {len(source)} image file(s) could not be read{rest}:\n"
              + "\n".join(f"  {f}: {why}" for f, why in errors), file=sys.stderr)
    if n == 0:
        if not errors:
            print("error: no frame could be read from the source", file=sys.stderr)
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
