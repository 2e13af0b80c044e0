"""What the reference tool's sub-commands share: the recipes, the scores, the latency, the served networks.

``train`` records which recipe and augmentation a sitting used (:data:`RECIPES`, :data:`AUGMENT`) and
``evaluate`` describes them on the model card; all three score probabilities with :func:`scores`;
``ensemble`` and ``evaluate`` time models with :func:`latency_in_turns`; ``train --teacher`` and
``ensemble`` fold the networks they load with :func:`serving_networks`.
"""

from __future__ import annotations

import statistics
import time

RECIPES = {
    # name: builder settings (see helpers.models.build_vgg_cnn and helpers.augmentation)
    "vgg-default": dict(),  # the shipped model's architecture
    "vgg-slim": dict(widths=(32, 64, 128, 224)),  # the ensemble's second member: 1.06 M parameters
    "vgg-deep": dict(widths=(32, 64, 128, 256), convs_per_block=(2, 2, 3, 3), dense=256, dropout=0.4, block_dropout=0.1),
    # one conv at full resolution, wider at 12x12 and 6x6: 1.85 M parameters for about the shipped
    # network's time per face (run 25 in data/EXPERIMENTS.md)
    "vgg-lean": dict(widths=(32, 64, 160, 320), convs_per_block=(1, 2, 2, 2)),
}


AUGMENT = {
    # --augment name: strengths passed to helpers.augmentation.augmentation_block ({} = its defaults; None = off)
    "default": {},
    "weak": dict(rotation=0.02, zoom=0.05, translation=0.05, contrast=0.1, brightness=0.1),
    "none": None,
}


def latency_in_turns(models: dict, repeats: int = 200, rounds: int = 3) -> dict:
    """Time to classify one face (batch of 1, a compiled call) for each of ``models``, in turns.

    Each round times ``repeats`` calls of every model, one model after the other, ``rounds``
    times. Single-face timings on a shared 2-core machine drift by tens of percent over minutes:
    in turns, a slow spell falls on every model instead of deciding a limit for one. Each model
    gets the median of its rounds' medians (``median_ms``: one disturbed round does not decide
    it), the 90th percentile of all its calls (``p90_ms``) and ``round_medians_ms``.
    """
    import numpy as np

    x = np.random.default_rng(0).integers(0, 256, (1, 48, 48, 1)).astype("uint8")
    for model in models.values():
        for _ in range(20):  # warm up: the first calls build and compile
            model.predict_on_batch(x)
    calls = {name: [] for name in models}  # name -> one list of times per round
    for _ in range(rounds):
        for name, model in models.items():
            these = []
            for _ in range(repeats):
                t = time.perf_counter()
                model.predict_on_batch(x)
                these.append((time.perf_counter() - t) * 1000)
            calls[name].append(these)
    out = {}
    for name, per_round in calls.items():
        medians = [statistics.median(r) for r in per_round]
        every = sorted(t for r in per_round for t in r)
        out[name] = {"median_ms": round(statistics.median(medians), 2),
                     "p90_ms": round(every[int(0.9 * len(every))], 2),
                     "round_medians_ms": [round(m, 2) for m in medians]}
    return out


def per_face_latency_ms(model, repeats: int = 200, rounds: int = 3) -> dict:
    """:func:`latency_in_turns` for one model (the card's number)."""
    return latency_in_turns({"model": model}, repeats, rounds)["model"]


def scores(probs, labels) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix of ``probs`` (n, 7)."""
    import numpy as np
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    from helpers import CLASS_NAMES

    labels = np.asarray(labels)
    pred = probs.argmax(1)
    p, r, f, s = precision_recall_fscore_support(labels, pred, labels=range(7), zero_division=0)
    return {
        "n": int(len(labels)),
        "accuracy": float((pred == labels).mean()),
        "macro_f1": float(f1_score(labels, pred, average="macro")),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                      for i, c in enumerate(CLASS_NAMES)},
        "confusion": confusion_matrix(labels, pred, labels=range(7)).tolist(),
        "mean_probability_sum": float(np.mean(probs.sum(1))),
    }


def serving_networks(paths: list) -> list:
    """The network in each model file, batch norm folded for serving (``member_1``, ``member_2``, ...).

    Raises:
        SystemExit: a file holds more than one network (an ensemble): give each network's own file.
    """
    from helpers.explain import networks_in
    from helpers.models import fold_batch_norm
    from helpers.training import load_model

    networks = []
    for i, path in enumerate(paths, 1):
        inside = networks_in(load_model(path))
        if len(inside) != 1:
            raise SystemExit(f"{path} holds {len(inside)} networks; give each network's own file "
                             "(tools.reference train --export writes one per run).")
        networks.append(fold_batch_norm(inside[0], name=f"member_{i}"))  # nested models need distinct names
    return networks
