"""Evaluate a trained reference model once on the test split and publish it with its model card.

    python tools/evaluate_reference.py runs/reference/fer_reference.keras --data /path/to/fer2013 \
        --run-dir runs/reference --publish

Computes accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix on the
*test* split (never used for any choice), the per-face latency on this machine, and with
``--publish`` copies the model to ``data/fer_reference.keras``, records its SHA-256 in
``helpers/pretrained.py`` and writes ``data/fer_reference_metrics.json`` and ``data/MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def per_face_latency_ms(model, repeats: int = 300) -> dict:
    """Median and 90th-percentile time to classify one face (batch of 1) with a compiled call."""
    import numpy as np

    x = np.random.default_rng(0).integers(0, 256, (1, 48, 48, 1)).astype("uint8")
    for _ in range(20):
        model.predict_on_batch(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict_on_batch(x)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p90_ms": round(times[int(0.9 * len(times))], 2)}


def evaluate(model, split) -> dict:
    import numpy as np
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    from helpers import CLASS_NAMES

    probs = model.predict(split.images, batch_size=256, verbose=0)
    pred = probs.argmax(1)
    p, r, f, s = precision_recall_fscore_support(split.labels, pred, labels=range(7), zero_division=0)
    return {
        "n": int(len(split)),
        "accuracy": float((pred == split.labels).mean()),
        "macro_f1": float(f1_score(split.labels, pred, average="macro")),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                      for i, c in enumerate(CLASS_NAMES)},
        "confusion": confusion_matrix(split.labels, pred, labels=range(7)).tolist(),
        "mean_probability_sum": float(np.mean(probs.sum(1))),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data", default=os.environ.get("FER2013_DIR"))
    ap.add_argument("--run-dir", default=None, help="the training run (for result.json / log.csv)")
    ap.add_argument("--publish", action="store_true")
    args = ap.parse_args(argv)

    import keras

    from helpers.data import course_splits, load_fer2013
    from helpers.pretrained import load_model_file

    model = load_model_file(args.model)
    splits = course_splits(load_fer2013(args.data))
    metrics = {
        "model_file": Path(args.model).name,
        "size_mb": round(os.path.getsize(args.model) / 1e6, 2),
        "parameters": int(model.count_params()),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "val": evaluate(model, splits["val"]),
        "test": evaluate(model, splits["test"]),
        "latency_per_face": per_face_latency_ms(model),
    }
    if args.run_dir:
        run = Path(args.run_dir)
        if (run / "result.json").exists():
            metrics["training"] = json.loads((run / "result.json").read_text())
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("val", "test")}, indent=1))
    for name in ("val", "test"):
        m = metrics[name]
        print(f"{name}: accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  "
              + " ".join(f"{c}:{v['recall']:.2f}" for c, v in m["per_class"].items()))
    if args.publish:
        target = ROOT / "data" / "fer_reference.keras"
        shutil.copyfile(args.model, target)
        from helpers.pretrained import sha256_of

        digest = sha256_of(target)
        module = ROOT / "helpers" / "pretrained.py"
        text = re.sub(r"^MODEL_SHA256 = .*$", f'MODEL_SHA256 = "{digest}"', module.read_text(), flags=re.M)
        module.write_text(text)
        metrics["sha256"] = digest
        (ROOT / "data" / "fer_reference_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
        print(f"published {target} (sha256 {digest})")


if __name__ == "__main__":
    main()
