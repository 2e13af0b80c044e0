"""Training benchmark: throughput of each builder, and what each reaches on FER2013 in a fixed time.

    python benchmarks/bench_training.py --budget-min 20            # the issue's protocol
    python benchmarks/bench_training.py --budget-min 5 --builders compact vgg

For every builder (default: baseline, vgg, compact, each with the course's augmentation):

1. parameters and multiply-adds per face (computed from the layers);
2. training throughput in images/s: ``fit`` on batches of 64 in memory, timed after a warm-up
   epoch (compilation excluded), median of the timed epochs;
3. budgeted accuracy: ``helpers.training.train`` on the course's train split of real FER2013
   (``FER2013_DIR`` or ../shared/fer2013), validation on the course's val split, for at most
   ``--budget-min`` minutes of training (a callback stops at the budget); the reported number is the best epoch's validation accuracy (and its macro-F1).
   The learning rate follows a cosine over the budget's elapsed *time* (Adam, 1e-3 down to 2e-5),
   so every builder ends its budget with small steps whatever its speed; the last epoch is cut
   when the budget runs out (it is still validated).

Results are printed as a table and appended as JSON lines to ``--out``
(default runs/bench_training.jsonl). Nothing here is part of the timed test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


#: Named settings of the course's builders that are worth timing too (builder, keyword arguments).
VARIANTS = {
    "baseline": ("baseline", {}),
    "vgg": ("vgg", {}),
    "compact": ("compact", {}),
    "vgg_small": ("vgg", {"widths": (16, 32, 64, 128), "dense": 128}),  # a quarter of vgg's multiply-adds
}


def build(name: str):
    """A fresh model for a builder name or a :data:`VARIANTS` name, with the course's augmentation."""
    from helpers import models

    kind, kwargs = VARIANTS[name]
    return models.build_model(kind, **kwargs)


def real_data_dir() -> Path:
    for candidate in (os.environ.get("FER2013_DIR"), ROOT.parent / "shared" / "fer2013", ROOT / "data" / "fer2013"):
        if candidate and (Path(candidate) / "train").is_dir():
            return Path(candidate)
    sys.exit("Real FER2013 not found: set FER2013_DIR (image folders with train/ and test/).")


def throughput(kind: str, images, labels, batch_size: int = 64, batches: int = 12, repeats: int = 3) -> float:
    """Training images/s of a fresh ``kind`` model (augmentation on), after one warm-up epoch."""
    import keras

    import helpers
    from helpers import models, training

    helpers.seed_everything(0)
    model = training.compile_model(build(kind))
    n = batch_size * batches
    x, y = images[:n], training.one_hot(labels[:n])
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    model.fit(x, y, batch_size=batch_size, epochs=1 + repeats, verbose=0, callbacks=[Timer()], shuffle=False)
    return n / statistics.median(times[1:])


def budgeted_run(kind: str, splits, budget_s: float, ips: float, run_root: Path, batch_size: int = 64) -> dict:
    """Train ``kind`` for at most ``budget_s`` seconds; best validation accuracy and macro-F1."""
    import keras

    import helpers
    from helpers import imbalance, models, training

    n_train = len(splits["train"])
    epochs = 1000  # the budget decides; the learning rate follows a cosine over the budget's *time*

    class Budget(keras.callbacks.Callback):
        """Cosine learning rate over elapsed time (1e-3 -> 2e-5); stops when the budget is spent."""

        def on_train_begin(self, logs=None):
            self.t0 = time.perf_counter()

        def on_train_batch_begin(self, batch, logs=None):
            frac = min((time.perf_counter() - self.t0) / budget_s, 1.0)
            self.model.optimizer.learning_rate = 1e-3 * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - self.t0 > budget_s:
                self.model.stop_training = True

    helpers.seed_everything(0)
    model = training.compile_model(build(kind))
    start = time.perf_counter()
    history = training.train(
        model, splits["train"], splits["val"], run_root / kind, epochs=epochs, batch_size=batch_size,
        lr_schedule=None, patience=None, resume=False, verbose=2, callbacks=[Budget()],
    )
    seconds = time.perf_counter() - start
    metrics = imbalance.validation_metrics(model, splits["val"])  # the best epoch's weights
    return {
        "epochs_run": len(history), "train_seconds": round(seconds, 1),
        "val_accuracy": round(metrics["accuracy"], 4), "val_macro_f1": round(metrics["macro_f1"], 4),
        "disgust_recall": round(metrics["recall_disgust"], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-min", type=float, default=20.0, help="training minutes per builder")
    parser.add_argument("--builders", nargs="+", default=["baseline", "vgg", "compact"], choices=sorted(VARIANTS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--skip-budget", action="store_true", help="only parameters, multiply-adds, throughput")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_training.jsonl"))
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    import helpers
    from helpers import models

    splits = helpers.load_course_data(str(real_data_dir()), quick=False)
    env = {
        "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()[0], "backend": keras.backend.backend(),
        "keras": keras.__version__, "python": platform.python_version(), "budget_min": args.budget_min,
        "train_images": len(splits["train"]), "val_images": len(splits["val"]),
    }
    print(env, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for kind in args.builders:
        model = build(kind)
        row = {"builder": kind, "parameters": models.count_params(model), "multiply_adds": models.multiply_adds(model)}
        row["train_images_per_s"] = round(throughput(kind, splits["train"].images, splits["train"].labels, args.batch_size), 1)
        print(row, flush=True)
        if not args.skip_budget:
            row.update(budgeted_run(kind, splits, args.budget_min * 60, row["train_images_per_s"], out.parent / "bench_training", args.batch_size))
        row["load_avg_after"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        with open(out, "a") as f:
            f.write(json.dumps({**env, **row}) + "\n")
        print(row, flush=True)
    import pandas as pd

    print(pd.DataFrame(rows).set_index("builder").to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
