"""Evaluation (lesson 06): predictions, metrics, confusion matrices, error galleries and TTA.

Every metric comes from scikit-learn; this module only puts the numbers into tables and
pictures in :data:`CLASS_NAMES` order. The protocol the lessons follow: decide everything
(epochs, thresholds, whether to use TTA) on the validation split, then look at the test split
once, for the final numbers.

Also the lesson model (:func:`lesson_model`: the course's pretrained model, else the model the
student saved in lesson 05, else a tiny one trained on the spot) and the held-out predictions
lesson 08 uses to find suspicious labels (:func:`out_of_fold_probabilities`,
:func:`label_rejections`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from .contract import model_input
from .course import CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES, SEED, is_quick

#: Published reference points for FER2013 (accuracy in %, what it was measured on, source).
PUBLISHED = [
    (
        "Human accuracy (estimate)",
        65.0,
        "± 5 %, estimated on a small sample of FER2013 images",
        "Goodfellow et al. 2013, 'Challenges in Representation Learning: A report on three machine "
        "learning contests', ICONIP 2013 (arXiv:1307.0414)",
    ),
    (
        "Tang 2013 (challenge winner)",
        71.2,
        "FER2013 private test (twins of training faces included); CNN trained with a linear SVM loss",
        "Tang 2013, 'Deep Learning using Linear Support Vector Machines', ICML 2013 workshop (arXiv:1306.0239)",
    ),
    (
        "Khaireddin & Chen 2021",
        73.28,
        "FER2013 private test (twins included); VGG-style CNN, tuned training (single network)",
        "Khaireddin & Chen 2021, 'Facial Emotion Recognition: State of the Art Performance on FER2013' "
        "(arXiv:2105.03588)",
    ),
]


# --------------------------------------------------------------------------- predictions


def as_batch(images: np.ndarray) -> np.ndarray:
    """Images as a float32 batch ``(N, 48, 48, 1)`` of raw 0-255 pixels (the model contract).

    Accepts ``(N, 48, 48, 1)``, ``(N, 48, 48)``, one ``(48, 48, 1)`` or one ``(48, 48)`` face
    (:func:`helpers.contract.model_input`).

    Raises:
        ValueError: colour faces, any other shape, faces scaled to 0-1 or standardised (the
            message states the contract and what to do).
    """
    return model_input(images)


def predict_proba(model, images: np.ndarray, batch_size: int = 256, verbose: int = 0) -> np.ndarray:
    """The model's class probabilities for ``images``, computed in batches.

    Args:
        model: a course model (raw 0-255 pixels in, 7 softmax probabilities out).
        images: ``(N, 48, 48, 1)`` raw pixels 0-255 (see :func:`as_batch` for other accepted shapes;
            colour faces and faces scaled to 0-1 raise ``ValueError``).
        batch_size: faces per forward pass (bounds the memory used).
        verbose: 1 shows a Keras progress bar.

    Returns:
        float32 array ``(N, 7)``, one row of probabilities per image, CLASS_NAMES order.
    """
    x = as_batch(images)
    if len(x) == 0:
        return np.zeros((0, NUM_CLASSES), np.float32)
    probs = np.asarray(model.predict(x, batch_size=batch_size, verbose=verbose), dtype=np.float32)
    if probs.shape != (len(x), NUM_CLASSES):
        raise ValueError(f"The model returned shape {probs.shape}; a course model returns (N, {NUM_CLASSES}) probabilities.")
    return probs


# --------------------------------------------------------------------------- metrics


def _labels(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2:  # one-hot or probabilities
        y = y.argmax(axis=1)
    return y.astype(np.int64)


def classification_table(y_true, y_pred) -> "pd.DataFrame":
    """Per-class precision, recall, F1 and support, plus accuracy and macro/weighted averages.

    A thin wrapper around :func:`sklearn.metrics.classification_report` (all 7 classes, a class
    never predicted gets precision 0). Like scikit-learn's printed report, the ``accuracy`` row
    has its value in the ``f1-score`` column (and NaN for precision and recall).

    Args:
        y_true: true labels ``(N,)`` (or one-hot rows).
        y_pred: predicted labels ``(N,)`` (or probability rows; their argmax is used).

    Returns:
        DataFrame with rows ``CLASS_NAMES + [accuracy, macro avg, weighted avg]`` and columns
        ``precision, recall, f1-score, support``.
    """
    import pandas as pd
    from sklearn.metrics import classification_report

    y_true, y_pred = _labels(y_true), _labels(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("No labels to evaluate (empty arrays)")
    report = classification_report(
        y_true, y_pred, labels=list(range(NUM_CLASSES)), target_names=list(CLASS_NAMES),
        output_dict=True, zero_division=0,
    )
    rows = {name: report[name] for name in CLASS_NAMES}
    accuracy = report.get("accuracy", report.get("micro avg", {}).get("f1-score"))
    rows["accuracy"] = {"precision": np.nan, "recall": np.nan, "f1-score": accuracy, "support": len(y_true)}
    rows["macro avg"] = report["macro avg"]
    rows["weighted avg"] = report["weighted avg"]
    table = pd.DataFrame(rows).T[["precision", "recall", "f1-score", "support"]]
    table["support"] = table["support"].astype(int)
    return table


def confusion_table(y_true, y_pred, normalize: bool | str = False) -> "pd.DataFrame":
    """The confusion matrix as a DataFrame: rows are true classes, columns predicted classes.

    ``normalize='true'`` divides each row by the number of images of that class, so the diagonal
    is each class's recall (a class without images gets a row of zeros).
    """
    import pandas as pd
    from sklearn.metrics import confusion_matrix

    if normalize not in (False, None, "true"):
        raise ValueError(f"normalize must be False or 'true' (row-normalised), got {normalize!r}")
    cm = confusion_matrix(_labels(y_true), _labels(y_pred), labels=list(range(NUM_CLASSES)),
                          normalize="true" if normalize else None)
    cm = np.nan_to_num(cm)
    index = pd.Index(CLASS_NAMES, name="true")
    return pd.DataFrame(cm, index=index, columns=pd.Index(CLASS_NAMES, name="predicted"))


def plot_confusion_matrix(y_true, y_pred, normalize: bool | str = False, ax=None, title: str | None = None, cmap: str = "Blues"):
    """A seaborn heatmap of the confusion matrix with CLASS_NAMES labels.

    ``normalize=False`` shows counts; ``normalize='true'`` shows each row as fractions of the
    true class (the diagonal is then per-class recall). Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    cm = confusion_table(y_true, y_pred, normalize)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5.5))
    sns.heatmap(cm, annot=True, fmt=".2f" if normalize else "d", cmap=cmap, cbar=True, square=True,
                vmin=0, vmax=1 if normalize else None, ax=ax)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(title or ("confusion matrix (each row sums to 1)" if normalize else "confusion matrix (counts)"))
    return ax


def most_confused_pairs(y_true, y_pred, k: int = 5) -> "pd.DataFrame":
    """The ``k`` most frequent mistakes: (true class, predicted class) pairs off the diagonal.

    Returns a DataFrame with columns ``true, predicted, count, share_of_true`` (the fraction of
    that true class sent to that prediction), largest count first; pairs that never happen are
    left out, so it can have fewer than ``k`` rows.
    """
    import pandas as pd

    counts = confusion_table(y_true, y_pred).to_numpy()
    per_class = counts.sum(axis=1)
    rows = [
        (CLASS_NAMES[t], CLASS_NAMES[p], int(counts[t, p]), counts[t, p] / per_class[t])
        for t in range(NUM_CLASSES) for p in range(NUM_CLASSES) if t != p and counts[t, p] > 0
    ]
    rows.sort(key=lambda r: -r[2])  # stable: ties stay in class order
    return pd.DataFrame(rows[:k], columns=["true", "predicted", "count", "share_of_true"])


# --------------------------------------------------------------------------- galleries


def show_faces(images: np.ndarray, titles: list[str], cols: int = 8, size: float = 1.6, colors: list[str] | None = None,
               suptitle: str | None = None):
    """A grid of grayscale faces with a (multi-line) title each. Returns the figure."""
    import matplotlib.pyplot as plt

    n = len(images)
    if n == 0:
        print("(nothing to show)")
        return None
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, (size + 0.55) * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.ravel(), images)):
        ax.imshow(np.asarray(img).squeeze(), cmap="gray", vmin=0, vmax=255)
        ax.set_title(titles[i], fontsize=8, color=(colors[i] if colors else "black"))
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_misclassified(images: np.ndarray, y_true, probs: np.ndarray, n: int = 16, cols: int = 8, order: str = "confident"):
    """A gallery of misclassified faces: true label, predicted label and their probabilities.

    Args:
        images: the faces ``(N, 48, 48, 1)``.
        y_true: their labels.
        probs: the model's probabilities ``(N, 7)``.
        n: how many to show.
        order: ``"confident"`` shows the most confident mistakes first; ``"random"`` a random
            (seeded) sample of the mistakes.

    Returns:
        The indices (into ``images``) of the faces shown.
    """
    y_true, probs = _labels(y_true), np.asarray(probs)
    y_pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    if order == "confident":
        wrong = wrong[np.argsort(-probs[wrong, y_pred[wrong]], kind="stable")]
    elif order == "random":
        wrong = np.random.default_rng(SEED).permutation(wrong)
    else:
        raise ValueError(f"order must be 'confident' or 'random', got {order!r}")
    shown = wrong[:n]
    titles = [
        f"true {CLASS_NAMES[y_true[i]]} ({probs[i, y_true[i]]:.2f})\npred {CLASS_NAMES[y_pred[i]]} ({probs[i, y_pred[i]]:.2f})"
        for i in shown
    ]
    print(f"{len(wrong)} of {len(y_true)} faces misclassified; showing {len(shown)}"
          + (" (most confident mistakes first)" if order == "confident" else ""))
    show_faces(images[shown], titles, cols=cols)
    return shown


# --------------------------------------------------------------------------- test-time augmentation


def tta_views(images: np.ndarray, crops: bool = False, shift: int = 2) -> list[np.ndarray]:
    """The views TTA averages over: the image and its mirror image; with ``crops``, also the
    image shifted by ``shift`` pixels in each of the 4 diagonal directions (edges replicated)."""
    x = as_batch(images)
    views = [x, x[:, :, ::-1, :]]
    if crops:
        padded = np.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="edge")
        for dy in (0, 2 * shift):
            for dx in (0, 2 * shift):
                views.append(padded[:, dy : dy + IMAGE_SIZE, dx : dx + IMAGE_SIZE, :])
    return views


def predict_with_tta(model, images: np.ndarray, crops: bool = False, batch_size: int = 256, shift: int = 2) -> np.ndarray:
    """Test-time augmentation: average the probabilities over the face and its mirror image
    (and, with ``crops=True``, four slightly shifted crops). Returns ``(N, 7)`` probabilities."""
    views = tta_views(images, crops=crops, shift=shift)
    return np.mean([predict_proba(model, v, batch_size) for v in views], axis=0).astype(np.float32)


def tta_effect(model, images: np.ndarray, y_true, batch_size: int = 256) -> "pd.DataFrame":
    """Accuracy and macro-F1 without TTA, with flip TTA and with flip + shifted crops."""
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score

    y_true = _labels(y_true)
    rows = {}
    for name, probs in (
        ("no TTA", predict_proba(model, images, batch_size)),
        ("flip", predict_with_tta(model, images, crops=False, batch_size=batch_size)),
        ("flip + 4 shifted crops", predict_with_tta(model, images, crops=True, batch_size=batch_size)),
    ):
        y_pred = probs.argmax(axis=1)
        rows[name] = {
            "accuracy": accuracy_score(y_true, y_pred),
            "macro F1": f1_score(y_true, y_pred, labels=list(range(NUM_CLASSES)), average="macro", zero_division=0),
        }
    return pd.DataFrame(rows).T


# --------------------------------------------------------------------------- is a gain larger than its noise?


def bootstrap_resamples(n: int, n_resamples: int = 2000, seed: int = SEED) -> np.ndarray:
    """Indices for a bootstrap: int64 ``(n_resamples, n)``, each row ``n`` draws from ``range(n)`` with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def paired_bootstrap(
    y_true, pred_a, pred_b, metric: Callable | None = None, n_resamples: int = 2000, seed: int = SEED, level: float = 0.95
) -> dict:
    """How much ``pred_b`` beats ``pred_a`` on the same faces, with a paired bootstrap interval.

    Both predictions are rescored on the *same* resampled faces (the pairing: the faces that are
    hard for one are hard for the other, so the difference varies far less than either score).
    ``metric(y_true, y_pred) -> float`` defaults to accuracy. Returns a dict with ``difference``
    (``metric(b) - metric(a)`` on all faces), ``low`` and ``high`` (the central ``level`` interval
    of the resampled differences) and ``n`` (faces). Raises ValueError for arrays of different lengths.
    """
    y_true, pred_a, pred_b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    if not len(y_true) == len(pred_a) == len(pred_b):
        raise ValueError(f"labels and predictions differ in length: {len(y_true)}, {len(pred_a)}, {len(pred_b)}")
    metric = metric or (lambda y, p: float(np.mean(y == p)))
    diffs = np.array([metric(y_true[i], pred_b[i]) - metric(y_true[i], pred_a[i])
                      for i in bootstrap_resamples(len(y_true), n_resamples, seed)])
    tail = 100 * (1 - level) / 2
    return {"difference": metric(y_true, pred_b) - metric(y_true, pred_a),
            "low": float(np.percentile(diffs, tail)), "high": float(np.percentile(diffs, 100 - tail)), "n": len(y_true)}


def choose_within_noise(y_true, predictions: dict, cost: dict, metric: Callable | None = None, seed: int = SEED) -> tuple[str, "pd.DataFrame"]:
    """The cheapest option, replaced by a costlier one only when its gain is larger than the noise.

    ``predictions``: option name -> predicted classes ``(n,)`` on the same faces; ``cost``: option
    name -> cost per face (e.g. forward passes). Options are tried from cheap to costly; one is
    adopted when the lower end of the 95 % paired-bootstrap interval of its gain over the option
    chosen so far is above 0. Returns ``(chosen name, table)``; the table has one row per option:
    cost, score, gain over the choice so far with its interval, and whether it was adopted.
    """
    import pandas as pd

    metric = metric or (lambda y, p: float(np.mean(np.asarray(y) == np.asarray(p))))
    order = sorted(predictions, key=lambda name: cost[name])
    chosen, rows = order[0], {}
    rows[chosen] = {"cost": cost[chosen], "score": metric(y_true, predictions[chosen]), "compared with": "",
                    "gain": np.nan, "gain low": np.nan, "gain high": np.nan, "adopted": True}
    for name in order[1:]:
        b = paired_bootstrap(y_true, predictions[chosen], predictions[name], metric, seed=seed)
        rows[name] = {"cost": cost[name], "score": metric(y_true, predictions[name]), "compared with": chosen,
                      "gain": b["difference"], "gain low": b["low"], "gain high": b["high"], "adopted": b["low"] > 0}
        if b["low"] > 0:
            chosen = name
    return chosen, pd.DataFrame(rows).T


# --------------------------------------------------------------------------- reference points


def majority_class_accuracy(y_train, y_test) -> tuple[int, float]:
    """The majority-class baseline: the most frequent training label, and its accuracy on ``y_test``."""
    y_train, y_test = _labels(y_train), _labels(y_test)
    majority = int(np.bincount(y_train, minlength=NUM_CLASSES).argmax())
    return majority, float(np.mean(y_test == majority))


def reference_points(y_train, y_test, model_accuracy: float, model_name: str = "this model (course test split)",
                     without_twins: tuple[float, int] | None = None) -> "pd.DataFrame":
    """Where a model stands: the majority-class baseline (computed here), human accuracy and
    published results, each with its source. ``model_accuracy`` is a fraction (0-1), measured on
    all test faces, as the published results are (twins of training faces included);
    ``without_twins`` = ``(accuracy, number of faces)`` on the test faces without a pixel twin in
    training adds a row for it.

    Note the published figures are on FER2013's private test split; the course's test split is a
    CSV's PrivateTest or the Kaggle ``test/`` folder (PublicTest alone in some copies, PublicTest and
    PrivateTest merged, 7,178 faces, in others), so compare with care.
    """
    import pandas as pd

    majority, baseline = majority_class_accuracy(y_train, y_test)
    rows = [
        (f"Majority class (always '{CLASS_NAMES[majority]}')", 100 * baseline,
         "most frequent training label, scored on the same test labels", "computed here"),
        *PUBLISHED,
        (model_name, 100 * float(model_accuracy), f"all {len(_labels(y_test))} test images, twins of training faces included",
         "this notebook"),
    ]
    if without_twins is not None:
        rows.append((f"{model_name}, faces never seen", 100 * float(without_twins[0]),
                     f"the {without_twins[1]} test images without a pixel twin in training", "this notebook"))
    table = pd.DataFrame(rows, columns=["what", "accuracy %", "measured on", "source"]).set_index("what")
    return table.sort_values("accuracy %")


def compare_on_validation(models: dict, val, train_labels, batch_size: int = 256) -> "pd.DataFrame":
    """Models side by side on the validation split: accuracy and macro-F1 (capstone, lesson 09).

    Args:
        models: ``{name: model}``, each following the course contract (raw 48x48x1 pixels 0-255
            in, 7 probabilities out), e.g. yours, one trained from scratch and the reference.
        val: the validation :class:`~helpers.splits.Split` (never the test split).
        train_labels: the training labels, for the majority-class baseline's row.

    Returns:
        A DataFrame indexed by model name (the majority-class baseline first) with the columns
        ``accuracy`` and ``macro_f1`` (fractions 0-1) and ``n`` (faces scored).

    Raises:
        ValueError: ``val`` is the test split: choose and compare on validation, read test once at the end.
    """
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score

    if getattr(val, "name", "") == "test":
        raise ValueError("compare_on_validation got the test split. Compare and choose models on the validation "
                         "split (splits['val']); read the test split once, at the very end.")
    y_true = _labels(val.labels)
    majority, _ = majority_class_accuracy(train_labels, y_true)
    predictions = {f"baseline: majority class (always '{CLASS_NAMES[majority]}')": np.full_like(y_true, majority)}
    predictions.update({name: predict_proba(model, val.images, batch_size).argmax(axis=1) for name, model in models.items()})
    rows = {name: {"accuracy": accuracy_score(y_true, y_pred),
                   "macro_f1": f1_score(y_true, y_pred, labels=list(range(NUM_CLASSES)), average="macro", zero_division=0),
                   "n": len(y_true)}
            for name, y_pred in predictions.items()}
    return pd.DataFrame(rows).T.astype({"accuracy": float, "macro_f1": float, "n": int})


# --------------------------------------------------------------------------- the model a lesson evaluates


def train_tiny_model(train, val=None, epochs: int | None = None, batch_size: int = 16, verbose: int = 0):
    """A small CNN (:func:`helpers.models.build_baseline_cnn`) trained here with Adam and
    categorical cross-entropy, for when no trained model is available.

    Quick mode: 16-32-64 filters, 8 epochs on the quick subset (a few seconds; barely above
    chance, a demonstration of the tools, not a model). Full mode: 32-64-128 filters, 10 epochs.
    """
    from .models import build_baseline_cnn
    from .training import compile_model, one_hot

    quick = is_quick()
    epochs = epochs or (8 if quick else 10)
    model = build_baseline_cnn(filters=(16, 32, 64) if quick else (32, 64, 128), name="tiny_cnn")
    compile_model(model, learning_rate=3e-3 if quick else 1e-3)
    model.fit(
        train.images.astype("float32"), one_hot(train.labels), epochs=epochs, batch_size=batch_size, verbose=verbose,
        validation_data=None if val is None else (val.images.astype("float32"), one_hot(val.labels)),
    )
    return model


def lesson_model(splits: dict, saved: str | os.PathLike | None = None, epochs: int | None = None, verbose: int = 1,
                 mine: bool = False):
    """The model a lesson evaluates, and a sentence saying which one it is.

    In order: the course's pretrained model (``helpers.pretrained``) when its file is present;
    else the model lesson 05 saved at ``saved`` (default: the workshop/full-mode path of
    :func:`helpers.training.lesson_05_model_path`, under ``runs/``; full mode only: in quick mode a parallel run
    of lesson 05 may be writing it); else a tiny CNN trained here on ``splits['train']``.
    ``mine=True`` puts your lesson-05 model first (in any mode); without that file it says so and
    goes on in the order above.

    Returns:
        ``(model, description)``.
    """
    from . import pretrained
    from .training import lesson_05_model_path, load_model

    saved = lesson_05_model_path(quick=False) if saved is None else saved
    if mine and Path(saved).is_file():
        model, description = load_model(saved), f"your model from lesson 05 ({saved})"
    else:
        if mine:
            print(f"NOTE: no model at {saved}: train and save one in lesson 05 (full mode) to evaluate your own. "
                  "Using the next model in line instead.")
        if pretrained.pretrained_available():
            model = pretrained.load_pretrained()
            description = "the course's pretrained reference model (helpers.pretrained)"
        elif not is_quick() and Path(saved).is_file():
            model = load_model(saved)
            description = f"your model from lesson 05 ({saved})"
        else:
            print("NOTE: no trained model found (neither the course's pretrained model nor lesson 05's "
                  f"{saved}).\nTraining a tiny CNN for a few epochs instead; its numbers are a demonstration, "
                  "far below what a trained model reaches.")
            model = train_tiny_model(splits["train"], splits.get("val"), epochs=epochs, verbose=verbose)
            description = "a tiny CNN trained in this notebook" + (" (quick mode: 8 epochs on the quick subset)" if is_quick() else "")
    print(f"Evaluating {description}.")
    return model, description


# --------------------------------------------------------------------------- held-out predictions (lesson 08)


def out_of_fold_probabilities(
    build: Callable[[], object], images: np.ndarray, labels, folds: int = 3, epochs: int = 3,
    batch_size: int = 32, seed: int = SEED, verbose: int = 0,
) -> np.ndarray:
    """Cross-validated probabilities: every image is scored by a model that never trained on it.

    Args:
        build: returns a fresh *compiled* model (categorical cross-entropy) each call.
        images, labels: the data to score.
        folds: number of stratified folds (each image is held out exactly once).

    Returns:
        ``(N, 7)`` probabilities, row ``i`` from the fold that held image ``i`` out.
    """
    import keras
    from sklearn.model_selection import StratifiedKFold

    labels = _labels(labels)
    x = as_batch(images)
    probs = np.zeros((len(labels), NUM_CLASSES), np.float32)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (fit_idx, held_idx) in enumerate(splitter.split(x, labels), 1):
        model = build()
        model.fit(x[fit_idx], keras.utils.to_categorical(labels[fit_idx], NUM_CLASSES), epochs=epochs,
                  batch_size=batch_size, verbose=verbose)
        probs[held_idx] = predict_proba(model, x[held_idx])
        print(f"fold {k}/{folds}: trained on {len(fit_idx)}, scored {len(held_idx)} held-out faces")
    return probs


def label_rejections(probs: np.ndarray, labels, n: int | None = None) -> "pd.DataFrame":
    """Images ranked by how unlikely the model finds their label (lowest probability first).

    ``probs`` must be held-out predictions (the model never trained on these images), otherwise
    the model has simply memorised the labels. Returns a DataFrame indexed by image index with
    ``label, p_label, predicted, p_predicted``; the first rows are the labels most worth a
    second look (some are annotation errors, some are hard faces, some are model errors).
    """
    import pandas as pd

    labels, probs = _labels(labels), np.asarray(probs)
    p_label = probs[np.arange(len(labels)), labels]
    order = np.argsort(p_label, kind="stable")[: n if n is not None else len(labels)]
    predicted = probs.argmax(axis=1)
    return pd.DataFrame(
        {
            "label": [CLASS_NAMES[labels[i]] for i in order],
            "p_label": p_label[order],
            "predicted": [CLASS_NAMES[predicted[i]] for i in order],
            "p_predicted": probs[order, predicted[order]],
        },
        index=pd.Index(order, name="image"),
    )
