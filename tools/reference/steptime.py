"""Time the GPU mode's training step here and count its FLOPs: ``python -m tools.reference steptime``.

    python -m tools.reference steptime --recipe vgg-lean --batch-size 256 --steps 5 --precision float32 mixed_bfloat16

For each precision: the very step ``tools.reference gpu`` compiles (faces on the device, the
augmentation as tensor ops, the network, label-smoothed cross-entropy, Adam), two warm-up steps,
then ``--steps`` timed ones (median), on random faces; the augmentation alone on one batch; the
load average before and after (the course machine's cores are shared). FLOPs per face: the layer
formula (:func:`tools.reference.device.forward_flops`) and TensorFlow's profiler on the network's
forward graph, as a cross-check. Prints one JSON object; the lab note (data/EXPERIMENTS.md)
projects a GPU's time per epoch from it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from .common import AUGMENT, RECIPES


def profiler_flops(network) -> int | None:
    """FLOPs of one face's forward pass as TensorFlow's profiler counts them (None on another backend)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    spec = tf.TensorSpec((1, 48, 48, 1), tf.float32)
    graph = tf.function(lambda x: network(x, training=False)).get_concrete_function(spec).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph, options=options).total_float_ops)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m tools.reference steptime", description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="vgg-lean", choices=sorted(RECIPES))
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--augment", default="default", choices=list(AUGMENT))
    ap.add_argument("--precision", nargs="+", default=["float32", "mixed_bfloat16"])
    args = ap.parse_args(argv)

    import keras
    import numpy as np

    from helpers.training import one_hot
    from .device import DeviceAugment, augment_settings, choose_precision, forward_flops
    from .gpu import build_network, compile_trainer, training_model

    rng = np.random.default_rng(0)
    n = 4 * args.batch_size
    faces = rng.integers(0, 256, (n, 48, 48, 1)).astype("uint8")
    y = one_hot(rng.integers(0, 7, n))
    report = {"recipe": args.recipe, "batch_size": args.batch_size, "keras": keras.__version__,
              "backend": keras.backend.backend(), "cpu_count": os.cpu_count(), "detected": choose_precision()[:2]}
    keras.mixed_precision.set_global_policy("float32")
    network = build_network(args.recipe)
    report["params"] = int(sum(int(np.prod(w.shape)) for w in network.trainable_weights))
    report["forward_flops_formula"] = forward_flops(network)
    report["forward_flops_profiler"] = profiler_flops(network)
    augment = DeviceAugment(**augment_settings(AUGMENT[args.augment]), seed=0)
    batch = faces[: args.batch_size].astype("float32")
    call = lambda: keras.ops.convert_to_numpy(augment(batch, training=True))  # noqa: E731
    call()
    t = time.perf_counter()
    for _ in range(args.steps):
        call()
    report["augment_ms_per_batch_eager"] = round(1000 * (time.perf_counter() - t) / args.steps, 1)
    for precision in args.precision:
        keras.mixed_precision.set_global_policy(precision)
        model = compile_trainer(training_model(build_network(args.recipe), faces, augment_settings(AUGMENT[args.augment]), 0),
                                1e-3, 1e-4, 0.1)
        load = os.getloadavg()[0]
        times = []
        for step in range(args.steps + 2):
            index = rng.permutation(n)[: args.batch_size].astype("int32")
            t = time.perf_counter()
            model.train_on_batch(index, y[index])
            times.append(time.perf_counter() - t)
        median = statistics.median(times[2:])
        report[precision] = {"step_s": round(median, 3), "steps_s": [round(x, 3) for x in times[2:]],
                             "faces_per_s": round(args.batch_size / median, 1),
                             "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}
        print(json.dumps({precision: report[precision]}), flush=True)
    keras.mixed_precision.set_global_policy("float32")
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
