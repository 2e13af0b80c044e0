"""Lessons 00-03's implement-then-compare exercises: right answers written another way pass their checks,
and the solution's parser stops at a broken row with an error that names it.

(tests/test_checks.py proves for every exercise that the reference passes, a stub is "not attempted" and
each registered wrong answer fails; this file adds the other side: answers that are right but differ from
the reference.)
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

import helpers
import helpers.checks as checks
from helpers import CLASS_NAMES

ROOT = Path(__file__).resolve().parents[1]


def passes(answer, name: str) -> None:
    result = checks.run_check(answer, name)
    assert result.status == "pass", result.message


def test_pixel_row_problem_written_with_int_conversion():
    def pixel_row_problem(text):
        pieces = text.split()
        if len(pieces) != 2304:
            return f"the cell has {len(pieces)} values instead of 48 x 48"
        for piece in pieces:
            try:
                value = int(piece)
            except ValueError:
                return f"cannot read {piece} as a number"
            if not 0 <= value <= 255:
                return f"{piece} is outside 0-255"
        return ""

    passes(pixel_row_problem, "pixel_row_problem")


@pytest.mark.parametrize("how", ["fromstring", "pandas"])
def test_parse_pixels_written_another_way(how):
    import pandas as pd

    def parse_pixels(pixel_strings):
        texts = list(pixel_strings)
        for row, text in enumerate(texts):
            if checks.EXERCISES["pixel_row_problem"].reference(text):
                raise ValueError(f"row {row} is broken")
        if how == "fromstring":
            faces = [np.fromstring(t, dtype=np.int64, sep=" ") for t in texts]
            return np.array(faces, dtype=np.uint8).reshape(len(texts), 48, 48)
        table = pd.Series(texts, dtype=object).str.split(expand=True)
        return table.to_numpy(dtype=np.int64).astype(np.uint8).reshape(-1, 48, 48) if len(texts) else np.empty((0, 48, 48), np.uint8)

    passes(parse_pixels, "parse_pixels")


def _solution_namespace(notebook: str, defines: str) -> dict:
    cells = nbformat.read(ROOT / "solutions" / notebook, as_version=4).cells
    source = next(c.source for c in cells if c.cell_type == "code" and f"def {defines}(" in c.source)
    import pandas as pd

    namespace = {"np": np, "pd": pd, "helpers": helpers, "CLASS_NAMES": CLASS_NAMES}
    if "keras" in source:  # importing Keras takes seconds: only for a cell that needs it
        import keras

        namespace["keras"] = keras
    exec(compile(source, notebook, "exec"), namespace)
    return namespace


def test_the_solutions_parser_names_a_broken_row():
    parse_pixels = _solution_namespace("01_loading_fer2013.ipynb", "parse_pixels")["parse_pixels"]
    good = " ".join(["7"] * 2304)
    for broken, what in ((" ".join(["7"] * 2303), "2303"), (good.replace("7", "x", 1), "'x'"), (good + " 300", "2305")):
        with pytest.raises(ValueError, match=rf"row 2\b.*{what}"):
            parse_pixels([good, good, broken, good])
    assert parse_pixels([good, "  " + good.replace(" ", "   ") + "\n"]).shape == (2, 48, 48)


def test_split_without_twins_written_with_sklearn():
    from sklearn.model_selection import train_test_split

    def split_without_twins(labels, hashes, val_fraction, seed):
        index = np.arange(len(labels))
        try:
            _, val = train_test_split(index, test_size=val_fraction, stratify=labels, random_state=seed)
        except ValueError:  # a class too small for scikit-learn to stratify: a seeded draw per class instead
            rng = np.random.default_rng(seed)
            val = np.concatenate([rng.permutation(index[labels == c])[: round(val_fraction * (labels == c).sum())]
                                  for c in np.unique(labels)])
        train_hashes = set(hashes[np.setdiff1d(index, val)])
        val = np.sort([i for i in val if hashes[i] not in train_hashes]).astype(int)
        return [i for i in index if i not in set(val)], list(val)

    passes(split_without_twins, "split_without_twins")


def test_effective_number_weights_written_another_way():
    def effective_number_weights(counts, beta):
        weights = {}
        for c, n in enumerate(counts):
            if n > 0:
                weights[c] = (1 - beta) / (1 - np.power(beta, float(n)))  # 1 / effective number
        total = sum(weights.values())
        return {c: w / total * len(weights) for c, w in weights.items()}

    passes(effective_number_weights, "effective_number_weights")


def test_flip_layer_written_with_randint_and_a_slice():
    import keras

    def flip_layer_outputs(images, training, seed, calls):
        class Flip(keras.layers.Layer):
            def __init__(self, seed=None):
                super().__init__()
                self.rng = keras.random.SeedGenerator(seed)

            def call(self, x, training=None):
                if training:
                    coin = keras.random.randint((keras.ops.shape(x)[0],), 0, 2, seed=self.rng)
                    mask = keras.ops.reshape(keras.ops.cast(coin, x.dtype), (-1, 1, 1, 1))
                    return mask * x[:, :, ::-1] + (1 - mask) * x
                return x

        layer = Flip(seed)
        model = keras.Sequential([keras.Input(images.shape[1:]), layer])
        return np.array([np.asarray(model(images, training=training)) for _ in range(calls)])

    passes(flip_layer_outputs, "flip_layer_outputs")


def test_majority_baseline_scores_written_with_precision_and_recall():
    from collections import Counter

    def majority_baseline_scores(train_labels, val_labels):
        m = Counter(train_labels.tolist()).most_common(1)[0][0]
        hits = sum(1 for y in val_labels if y == m)
        precision = hits / len(val_labels)
        recall = 1.0 if hits else 0.0
        f1 = 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
        return {"macro_f1": np.mean([f1] + [0.0] * 6), "accuracy": precision}

    passes(majority_baseline_scores, "majority_baseline_scores")
