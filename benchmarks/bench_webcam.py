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
preprocess, classify, smooth, draw) and the end-to-end frames per second, with and without
tracking between full detections.
"""

from __future__ import annotations

import argparse
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
    from helpers import inference

    if path:
        return inference.load_model(path), f"{path} (--model)"
    pretrained = inference.pretrained_module()
    if pretrained is not None and getattr(pretrained, "pretrained_available", lambda: True)():
        return pretrained.load_pretrained(), "the course's pretrained model (helpers.pretrained)"
    model = reference_size_model()
    return model, "a reference-size VGG-style CNN built here (helpers.pretrained has no model in this checkout)"


def timeit(fn, repeat: int, warmup: int = 5) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(repeat)
    for i in range(repeat):
        t = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t
    return out * 1000


def compare_calls(model, repeat: int) -> tuple[str, dict]:
    """Median ms of each way to call the model, per batch size; returns the fastest for batch 1."""
    import tensorflow as tf

    def call(x):
        return model(x, training=False)

    fn = tf.function(call, reduce_retracing=True, autograph=False)
    ways = {
        "model(x, training=False)": lambda x: model(x, training=False),
        "tf.function(model call)": fn,
        "model.predict_on_batch(x)": model.predict_on_batch,
        "model.predict(x, verbose=0)": lambda x: model.predict(x, verbose=0),
    }
    table = {}
    print("\nModel call, median ms per batch (faces per frame = batch size):")
    print(f"  {'call':30s}" + "".join(f"{f'batch {b}':>10s}" for b in (1, 2, 4)))
    for name, call in ways.items():
        row = []
        for b in (1, 2, 4):
            x = np.random.default_rng(b).integers(0, 256, (b, 48, 48, 1)).astype(np.float32)
            n = max(5, repeat // (10 if "predict(" in name else 1))
            row.append(float(np.median(timeit(lambda: np.asarray(call(x)), n))))
        table[name] = row
        print(f"  {name:30s}" + "".join(f"{v:10.2f}" for v in row))
    best = min(table, key=lambda k: table[k][0])
    return best, table


def run_pipeline(model, frames, redetect_every: int) -> tuple[dict, float]:
    from helpers.inference import EmotionPipeline

    pipe = EmotionPipeline(model, redetect_every=redetect_every)
    for f in frames[:10]:  # warm-up (tracing, buffers)
        pipe.process(f)
    pipe.reset()
    t = time.perf_counter()
    found = 0
    for f in frames:
        result, _ = pipe.process(f)
        found += len(result.faces) > 0
    elapsed = time.perf_counter() - t
    table = pipe.timing_table(skip=0)
    return {"fps": len(frames) / elapsed, "table": table, "found": found / len(frames)}, elapsed


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
    print(f"Model: {what}: {model.count_params():,} parameters")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}, OpenCV {cv2.__version__}")

    best, _ = compare_calls(model, repeat=100)
    print(f"  fastest for batch 1: {best}  (helpers.inference.Classifier uses tf.function)")

    photos = inference.sample_photos()
    half = args.frames // 2
    frames = []
    for i, photo in enumerate(photos.values()):
        frames += inference.jittered_frames(photo, half if i == 0 else args.frames - half, seed=i)
    print(f"\nFrames: {len(frames)} of 640x480 from {', '.join(photos)} (shifts, lighting, noise), one face each")

    for every, label in ((5, "tracking, full detection every 5th frame (default)"), (1, "full detection on every frame")):
        res, elapsed = run_pipeline(model, frames, every)
        t = res["table"]
        print(f"\nPipeline, {label}:")
        print(f"  end to end: {res['fps']:.1f} FPS ({elapsed:.1f} s for {len(frames)} frames), "
              f"face found in {res['found']:.0%} of frames")
        print("  ms per frame  " + "".join(f"{c:>9s}" for c in t.columns))
        for stage, row in t.iterrows():
            print(f"  {stage:12s}  " + "".join(f"{v:9.2f}" for v in row))

    clf = inference.Classifier(model)
    face = inference.preprocess_faces(frames[0], inference.FaceDetector().detect(frames[0]))[:1]
    per_face = timeit(lambda: clf(face), 200, warmup=10)
    four = np.repeat(face, 4, axis=0)
    per_four = timeit(lambda: clf(four), 100, warmup=10)
    print(f"\nClassification latency (Classifier, tf.function): 1 face {np.median(per_face):.2f} ms "
          f"(p95 {np.percentile(per_face, 95):.2f}); 4 faces in one batch {np.median(per_four):.2f} ms "
          f"= {np.median(per_four) / 4:.2f} ms per face")
    return 0


if __name__ == "__main__":
    sys.exit(main())
