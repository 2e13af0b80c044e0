"""The capstone's evaluator (helpers.evaluation.compare_on_validation), without TensorFlow models."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import CLASS_NAMES
from helpers.data import Split
from helpers.evaluation import compare_on_validation


class Always:
    """A stand-in model that gives every face the same probabilities (``predict`` like Keras)."""

    def __init__(self, label: int):
        self.label = label

    def predict(self, x, batch_size=256, verbose=0):
        probs = np.full((len(x), 7), 0.01, np.float32)
        probs[:, self.label] = 0.94
        return probs


class Oracle:
    def __init__(self, labels):
        self.labels = labels

    def predict(self, x, batch_size=256, verbose=0):
        return np.eye(7, dtype=np.float32)[self.labels]


def split(name: str, labels) -> Split:
    labels = np.asarray(labels, np.int64)
    return Split(name, np.zeros((len(labels), 48, 48, 1), np.uint8), labels)


def test_models_next_to_the_majority_baseline():
    val = split("val", [3, 3, 0, 6, 2, 3])
    table = compare_on_validation({"always sad": Always(4), "oracle": Oracle(val.labels)}, val, train_labels=[3, 3, 0])
    baseline = f"baseline: majority class (always '{CLASS_NAMES[3]}')"
    assert list(table.index) == [baseline, "always sad", "oracle"]
    assert table.loc[baseline, "accuracy"] == pytest.approx(0.5)
    assert table.loc["always sad", "accuracy"] == 0.0
    assert table.loc["oracle", "accuracy"] == 1.0 and table.loc["oracle", "macro_f1"] == pytest.approx(4 / 7)  # 4 classes present
    assert (table["n"] == 6).all()


def test_refuses_the_test_split():
    with pytest.raises(ValueError, match="validation"):
        compare_on_validation({"m": Always(0)}, split("test", [0, 1]), train_labels=[0])
