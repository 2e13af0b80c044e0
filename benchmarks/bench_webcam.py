"""End-to-end speed of the webcam pipeline (lesson 07) on 640x480 frames with one face.

    python benchmarks/bench_webcam.py [--frames 300] [--model PATH] [--threads N]

Frames are made from the package photos (matplotlib's grace_hopper, scikit-image's astronaut) with
small shifts, lighting changes and noise, like a webcam. The model is the course's reference model
when helpers.pretrained has one (or --model PATH), otherwise a model of the reference size built
here: a VGG-style CNN (conv blocks 32-64-128-256, two 3x3 convs each with batch norm, global average
pooling, dense 256; about 1.5-2 M parameters, untrained: its speed is what matters). The output
says which.

Prints: the fastest way to call the model for batches of 1-4 faces (eager call, tf.function,
predict_on_batch, predict), the per-face classification latency, the time per stage (detect,
preprocess, classify, smooth, draw) and the end-to-end frames per second: the default pipeline,
the same classifying every frame, the previous default (every frame, with the model's flip TTA),
and a full detection on every frame.
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def reference_size_model():
    """A VGG-style CNN of the reference model's size, following the course contract (untrained)."""
    import keras
    from keras import layers

    inputs = keras.Input((48, 48, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    for filters in (32, 64, 128, 256):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(7, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="vgg_reference_size")


def get_model(path: str | None):
    """(model, description): --model, else helpers.pretrained, else the reference-size CNN."""
    from helpers import inference, pretrained

    if path:
        return inference.load_model(path), f"{path} (--model)"
    if pretrained.pretrained_available():
        return pretrained.load_pretrained(), "the course's pretrained model (helpers.pretrained)"
    model = reference_size_model()
    return model, "a reference-size VGG-style CNN built here (helpers.pretrained has no model in this checkout)"


def timeit(fn, repeat: int, warmup: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and CPU (all threads of this process) milliseconds per call."""
    for _ in range(warmup):
        fn()
    wall, cpu = np.empty(repeat), np.empty(repeat)
    for i in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall[i], cpu[i] = time.perf_counter() - w, time.process_time() - c
    return wall * 1000, cpu * 1000


def compare_calls(model, repeat: int) -> tuple[str, dict]:
    """Median wall ms of each way to call the model, per batch size; returns the fastest for batch 1."""
    import tensorflow as tf

    def call(x):
        return model(x, training=False)

    fn = tf.function(call, reduce_retracing=True, autograph=False)
    ways = {
        "model(x, training=False)": call,
        "tf.function(model call)": fn,
        "model.predict_on_batch(x)": model.predict_on_batch,
        "model.predict(x, verbose=0)": lambda x: model.predict(x, verbose=0),
    }
    table = {}
    print("\nModel call, median ms per batch, wall (CPU):")
    print(f"  {'call':30s}" + "".join(f"{f'batch {b}':>16s}" for b in (1, 2, 4)))
    for name, way in ways.items():
        row = []
        for b in (1, 2, 4):
            x = np.random.default_rng(b).integers(0, 256, (b, 48, 48, 1)).astype(np.float32)
            n = max(5, repeat // (10 if "predict(" in name else 1))
            wall, cpu = timeit(lambda: np.asarray(way(x)), n)
            row.append((float(np.median(wall)), float(np.median(cpu))))
        table[name] = row
        print(f"  {name:30s}" + "".join(f"{w:8.2f} ({c:5.2f})" for w, c in row))
    best = min(table, key=lambda k: table[k][0][0])
    return best, table


STAGES = ("detect", "preprocess", "classify", "smooth", "draw")


def run_pipeline(model, frames, redetect_every: int, flip_tta: bool = False, classify_every: int | None = None) -> dict:
    """``EmotionPipeline.process`` on every frame: its own per-stage wall-clock timings, and CPU time per frame."""
    from helpers import inference

    every = {} if classify_every is None else {"classify_every": classify_every}
    pipe = inference.EmotionPipeline(model, redetect_every=redetect_every, flip_tta=flip_tta, **every)
    for f in frames[:10]:  # warm-up (tracing, buffers)
        pipe.process(f)
    pipe.reset()
    cpu, found = [], 0
    w_start, c_start = time.perf_counter(), time.process_time()
    for frame in frames:
        c = time.process_time()
        result, _ = pipe.process(frame)
        cpu.append(1000 * (time.process_time() - c))
        found += bool(result.faces)
    w_total, c_total = time.perf_counter() - w_start, time.process_time() - c_start
    rows = list(pipe.history)
    wall = {s: [r[s] for r in rows] for s in STAGES}
    return {"wall": wall, "cpu": cpu, "fps": len(frames) / w_total, "cpu_fps": len(frames) / c_total,
            "found": found / len(frames), "seconds": w_total, "classified": float(np.mean([r["classified"] for r in rows]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow/OpenCV threads (default: all cores)")
    args = parser.parse_args(argv)

    import cv2
    import keras
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        cv2.setNumThreads(args.threads)
    from helpers import inference

    model, what = get_model(args.model)
    load = os.getloadavg()
    print(f"Model: {what}: {model.count_params():,} parameters")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.1f} at start "
          f"(other processes share the cores: wall-clock numbers include waiting for them), "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}, OpenCV {cv2.__version__}")

    best, _ = compare_calls(model, repeat=60)
    print(f"  fastest for batch 1: {best}  (helpers.inference.Classifier uses tf.function)")

    photos = inference.sample_photos()
    half = args.frames // 2
    frames = []
    for i, photo in enumerate(photos.values()):
        frames += inference.jittered_frames(photo, half if i == 0 else args.frames - half, seed=i)
    print(f"\nFrames: {len(frames)} of 640x480 from {', '.join(photos)} (face 150 px wide; shifts, lighting, "
          "noise), one face each")

    defaults = inspect.signature(inference.EmotionPipeline).parameters
    default_every, default_flip = defaults["redetect_every"].default, defaults["flip_tta"].default
    default_classify = defaults["classify_every"].default
    tta = "with" if default_flip else "without"
    runs = ((default_every, default_flip, None, f"default: template tracking, a search every {default_every} frames "
                                                f"(redetect_every), faces classified every {default_classify} frames "
                                                f"while followed (classify_every), {tta} the model's flip TTA"),
            (default_every, default_flip, 1, "as the default, but every frame classified (classify_every=1)"),
            (default_every, not default_flip, 1, f"every frame classified, {'without' if default_flip else 'with'} "
                                                 "the model's flip TTA (flip_tta): the previous default"),
            (1, default_flip, 1, f"full Haar detection on every frame, every frame classified, {tta} flip TTA"))
    for every, flip, classify_every, label in runs:
        res = run_pipeline(model, frames, every, flip, classify_every)
        print(f"\nPipeline, {label}:")
        print(f"  end to end: {res['fps']:.1f} FPS wall clock ({res['seconds']:.1f} s for {len(frames)} frames); "
              f"{res['cpu_fps']:.1f} frames per CPU-second; face found in {res['found']:.0%} of frames; "
              f"{res['classified']:.0%} of frames classified")
        print(f"  {'ms per frame':12s}{'wall mean':>11s}{'median':>9s}{'p95':>9s}")
        for stage in STAGES + ("total",):
            w = np.sum([res["wall"][s] for s in STAGES], 0) if stage == "total" else np.array(res["wall"][stage])
            print(f"  {stage:12s}{w.mean():11.2f}{np.median(w):9.2f}{np.percentile(w, 95):9.2f}")
        print(f"  CPU ms per frame (all stages, all threads): mean {np.mean(res['cpu']):.2f}")

    face = inference.preprocess_faces(frames[0], inference.FaceDetector().detect(frames[0]))[:1]
    for flip in (False, True):
        clf = inference.Classifier(model, flip_tta=flip)
        one_w, one_c = timeit(lambda: clf(face), 200, warmup=10)
        four_w, four_c = timeit(lambda: clf(np.repeat(face, 4, axis=0)), 100, warmup=10)
        print(f"\nPer-face classification (Classifier = tf.function call, flip_tta={flip}): 1 face "
              f"{np.median(one_w):.2f} ms wall (p95 {np.percentile(one_w, 95):.2f}, CPU {np.median(one_c):.2f}); "
              f"4 faces in one batch {np.median(four_w):.2f} ms = {np.median(four_w) / 4:.2f} ms per face")
    print(f"Load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
