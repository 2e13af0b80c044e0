"""Combine trained reference networks into one model file, choosing its form on validation.

    python -m tools.reference ensemble runs/next/fer_reference_plain.keras runs/slim/fer_reference_plain.keras \
        --data data/fer2013 --out runs/ensemble/fer_reference.keras

Each member is a model written by ``python -m tools.reference train --export`` (with or without its flip
wrapper: the network inside is used), prepared for serving with ``helpers.models.fold_batch_norm``
(batch norm folded into the convolutions, augmentation and dropout left out: the same outputs,
about 15-20 % faster per face on 2 CPU cores; ``--init-from`` in ``tools.reference train`` unfolds it to train it further).
The candidates are every member alone and the average of all members (``helpers.models.ensemble``),
each with and without flip test-time augmentation (``helpers.models.with_flip_tta``). For each
candidate this measures, on the *validation* split that ``tools.reference train`` held out of
Training: accuracy, macro-F1 and disgust recall; the file size; and the per-face latency (batch of
1), measured with the candidates in turns so that a slow spell of the machine falls on all of them.

The rule, fixed before the test split is read: **the most accurate candidate on validation whose
median latency is at most ``--max-ms`` (5 ms) and whose file is at most ``--max-mb`` (10 MB)**.
It is written to ``--out``, with ``candidates.json`` (every candidate's numbers) beside it. The
test split is never read here: ``python -m tools.reference evaluate`` measures the chosen model once.
Publish it only if it beats the shipped model by at least 0.5 points of validation accuracy with
no lower macro-F1 (one standard error on the 2,871-face validation split is about 0.9 points; see
run 10 in ``data/EXPERIMENTS.md``).

With ``--subsets`` it also measures, on the same validation faces, the average of every subset of
two or more members (each with flip-TTA): the candidate teachers for ``tools.reference train
--teacher``, which never serve and so have no latency limit (run 16 in ``data/EXPERIMENTS.md``).
They go to ``candidates.json`` under ``"teachers"``, best first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from .common import latency_in_turns, scores, serving_networks


def candidates(networks: list) -> dict:
    """Name -> model: each network alone and all of them averaged, each without and with flip-TTA."""
    from helpers.models import ensemble, with_flip_tta

    out = {}
    for i, net in enumerate(networks, 1):
        out[f"member {i}"] = ensemble([net], name="fer_reference")
        out[f"member {i} + flip"] = with_flip_tta(net, name="fer_reference")
    if len(networks) > 1:
        out["ensemble"] = ensemble(networks, name="fer_reference")
        out["ensemble + flip"] = ensemble([with_flip_tta(n, name=f"{n.name}_flip_tta") for n in networks],
                                          name="fer_reference")
    return out


def subset_averages(probs: dict, labels) -> list:
    """Every subset of two or more members, averaged: validation accuracy, macro-F1, disgust recall.

    Args:
        probs: member name -> its (n, 7) probabilities on the validation faces.
        labels: the (n,) true class indices.

    Returns:
        One row per subset (``members``, ``val_accuracy``, ``val_macro_f1``, ``val_disgust_recall``,
        scored as every candidate is, by ``common.scores``), the most accurate first (then
        the higher macro-F1).
    """
    from itertools import combinations

    import numpy as np

    rows = []
    for size in range(2, len(probs) + 1):
        for names in combinations(probs, size):
            m = scores(np.mean([probs[n] for n in names], axis=0), labels)
            rows.append({"members": list(names), "val_accuracy": m["accuracy"], "val_macro_f1": m["macro_f1"],
                         "val_disgust_recall": m["per_class"]["disgust"]["recall"]})
    return sorted(rows, key=lambda r: (-r["val_accuracy"], -r["val_macro_f1"]))


def choose(rows: dict, max_ms: float, max_mb: float) -> str:
    """The rule: the most accurate on validation among the candidates within both limits."""
    allowed = {k: r for k, r in rows.items() if r["latency"]["median_ms"] <= max_ms and r["size_mb"] <= max_mb}
    if not allowed:
        raise SystemExit(f"No candidate is within {max_ms} ms per face and {max_mb} MB: {json.dumps(rows, indent=1)}")
    return max(allowed, key=lambda k: allowed[k]["val_accuracy"])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m tools.reference ensemble", description=__doc__.splitlines()[0])
    ap.add_argument("members", nargs="+", help=".keras files exported by tools.reference train, one per network")
    ap.add_argument("--data", default=os.environ.get("FER2013_DIR"))
    ap.add_argument("--out", required=True, help="where to write the chosen model (.keras)")
    ap.add_argument("--max-ms", type=float, default=5.0)
    ap.add_argument("--max-mb", type=float, default=10.0)
    ap.add_argument("--latency-repeats", type=int, default=200,
                    help="timed calls of each candidate per round (3 rounds, after 20 warm-up calls); fewer only "
                         "for a quick check of the command (the tests), whose latencies then vary more")
    ap.add_argument("--val-fraction", type=float, default=0.1, help="as given to tools.reference train")
    ap.add_argument("--seed", type=int, default=42, help="as given to tools.reference train (it seeds the split)")
    ap.add_argument("--subsets", action="store_true",
                    help="also measure the average of every subset of 2+ members (each + flip) as a teacher")
    args = ap.parse_args(argv)

    from helpers.data import course_splits, load_fer2013
    from helpers.pretrained import sha256_of

    # the validation split tools.reference train held out (same fraction and seed)
    val = course_splits(load_fer2013(args.data), args.val_fraction, args.seed)["val"]
    networks = serving_networks(args.members)

    rows, files, models, flip_probs = {}, {}, candidates(networks), {}
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, model) in enumerate(models.items()):
            path = files[name] = Path(tmp) / f"candidate{k}.keras"
            model.save(path)
            probs = model.predict(val.images, batch_size=256, verbose=0)
            if name.endswith(" + flip") and name.startswith("member "):  # kept for --subsets
                flip_probs[name.removesuffix(" + flip")] = probs
            m = scores(probs, val.labels)
            rows[name] = {
                "val_accuracy": m["accuracy"],
                "val_macro_f1": m["macro_f1"],
                "val_disgust_recall": m["per_class"]["disgust"]["recall"],
                "size_mb": round(path.stat().st_size / 1e6, 2),
            }
        for name, latency in latency_in_turns(models, args.latency_repeats).items():
            rows[name]["latency"] = latency
            r = rows[name]
            print(f"{name:18s} val {r['val_accuracy']:.4f}  macro-F1 {r['val_macro_f1']:.4f}  "
                  f"disgust {r['val_disgust_recall']:.2f}  {latency['median_ms']:.2f} ms "
                  f"(rounds {latency['round_medians_ms']})  {r['size_mb']} MB", flush=True)
        chosen = choose(rows, args.max_ms, args.max_mb)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files[chosen], out)  # the very file that was measured
    summary = {"model_file": out.name, "sha256": sha256_of(out), "members": [str(p) for p in args.members],
               "folded": True, "val_n": int(len(val)), "max_ms": args.max_ms, "max_mb": args.max_mb,
               "chosen": chosen, "candidates": rows}
    if args.subsets:
        summary["teachers"] = subset_averages(flip_probs, val.labels)
        for r in summary["teachers"]:
            print(f"teacher {' + '.join(r['members']):40s} val {r['val_accuracy']:.4f}  "
                  f"macro-F1 {r['val_macro_f1']:.4f}  disgust recall {r['val_disgust_recall']:.2f}", flush=True)
    (out.parent / "candidates.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"chosen: {chosen} -> {out}")
    return summary


if __name__ == "__main__":
    main()
