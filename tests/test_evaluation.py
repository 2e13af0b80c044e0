"""helpers.evaluation: metrics against hand-computed values, confusion matrices, TTA, galleries."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from helpers import CLASS_NAMES
from helpers import evaluation as ev
from helpers import pretrained

# A hand-worked example with all 7 classes (index: true -> predicted):
#   angry 3: 0,0,1   disgust 2: 1,2   fear 3: 2,2,0   happy 3: 3,3,0   sad 2: 4,6   surprise 1: 5   neutral 1: 4
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 6])
Y_PRED = np.array([0, 0, 1, 1, 2, 2, 2, 0, 3, 3, 0, 4, 6, 5, 4])
# per class: TP / predicted as the class / true members of the class
PRECISION = [2 / 4, 1 / 2, 2 / 3, 2 / 2, 1 / 2, 1 / 1, 0 / 1]
RECALL = [2 / 3, 1 / 2, 2 / 3, 2 / 3, 1 / 2, 1 / 1, 0 / 1]
F1 = [4 / 7, 1 / 2, 2 / 3, 4 / 5, 1 / 2, 1.0, 0.0]
SUPPORT = [3, 2, 3, 3, 2, 1, 1]


def test_classification_table_matches_hand_computed_values():
    table = ev.classification_table(Y_TRUE, Y_PRED)
    assert list(table.index) == list(CLASS_NAMES) + ["accuracy", "macro avg", "weighted avg"]
    assert list(table.columns) == ["precision", "recall", "f1-score", "support"]
    per_class = table.loc[list(CLASS_NAMES)]
    np.testing.assert_allclose(per_class["precision"], PRECISION)
    np.testing.assert_allclose(per_class["recall"], RECALL)
    np.testing.assert_allclose(per_class["f1-score"], F1)
    assert per_class["support"].tolist() == SUPPORT
    assert table.loc["accuracy", "f1-score"] == pytest.approx(9 / 15)
    assert table.loc["accuracy", "support"] == 15
    assert np.isnan(table.loc["accuracy", "precision"])
    np.testing.assert_allclose(table.loc["macro avg", ["precision", "recall", "f1-score"]].astype(float),
                               [np.mean(PRECISION), np.mean(RECALL), np.mean(F1)])
    w = np.array(SUPPORT) / 15
    np.testing.assert_allclose(table.loc["weighted avg", ["precision", "recall", "f1-score"]].astype(float),
                               [w @ PRECISION, w @ RECALL, w @ F1])
    assert table.loc["weighted avg", "recall"] == pytest.approx(9 / 15)  # weighted recall is accuracy


def test_classification_table_accepts_probabilities_and_missing_classes():
    probs = np.eye(7)[Y_PRED] * 0.9 + 0.1 / 7
    assert ev.classification_table(Y_TRUE, probs).equals(ev.classification_table(Y_TRUE, Y_PRED))
    table = ev.classification_table([3, 3, 3, 0], [3, 3, 0, 0])  # 5 classes never occur
    assert table.loc["happy", "recall"] == pytest.approx(2 / 3)
    assert table.loc["sad", "precision"] == 0 and table.loc["sad", "support"] == 0
    with pytest.raises(ValueError, match="labels"):
        ev.classification_table([0, 1], [0])


def test_confusion_table_counts_and_row_normalisation():
    counts = ev.confusion_table(Y_TRUE, Y_PRED)
    assert counts.shape == (7, 7) and list(counts.index) == list(CLASS_NAMES)
    assert counts.to_numpy().sum() == 15
    assert counts.loc["angry"].tolist() == [2, 1, 0, 0, 0, 0, 0]
    assert counts.loc["neutral", "sad"] == 1 and counts.loc["sad", "neutral"] == 1
    norm = ev.confusion_table(Y_TRUE, Y_PRED, normalize="true")
    np.testing.assert_allclose(norm.to_numpy().sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(norm), RECALL)  # the diagonal of the row-normalised matrix is recall
    empty_row = ev.confusion_table([0, 0], [0, 1], normalize="true")
    assert empty_row.loc["happy"].sum() == 0  # a class without images: zeros, not NaN
    with pytest.raises(ValueError, match="normalize"):
        ev.confusion_table(Y_TRUE, Y_PRED, normalize="pred")


def test_plot_confusion_matrix_labels_and_annotations():
    import matplotlib.pyplot as plt

    ax = ev.plot_confusion_matrix(Y_TRUE, Y_PRED)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASS_NAMES)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(CLASS_NAMES)
    assert "2" in [t.get_text() for t in ax.texts]
    ax = ev.plot_confusion_matrix(Y_TRUE, Y_PRED, normalize="true")
    assert "0.67" in [t.get_text() for t in ax.texts]
    plt.close("all")


def test_most_confused_pairs():
    y_true = np.array([6] * 5 + [4] * 3 + [2] * 2 + [3])
    y_pred = np.array([4, 4, 4, 6, 6] + [6, 6, 4] + [0, 2] + [3])
    pairs = ev.most_confused_pairs(y_true, y_pred, k=2)
    assert pairs[["true", "predicted", "count"]].values.tolist() == [["neutral", "sad", 3], ["sad", "neutral", 2]]
    np.testing.assert_allclose(pairs["share_of_true"], [3 / 5, 2 / 3])
    assert len(ev.most_confused_pairs(y_true, y_pred, k=10)) == 3  # only mistakes that happen
    assert len(ev.most_confused_pairs([1, 2], [1, 2])) == 0


class _Counter:
    """A stand-in model: returns fixed probabilities and records the batch sizes it sees."""

    def __init__(self):
        self.batches = []

    def predict(self, x, batch_size, verbose=0):
        self.batches.append((len(x), batch_size))
        return np.tile(np.eye(7)[3], (len(x), 1))


def test_predict_proba_shapes_and_errors():
    model = _Counter()
    faces = np.zeros((5, 48, 48, 1), np.uint8)
    assert ev.predict_proba(model, faces, batch_size=2).shape == (5, 7)
    assert model.batches == [(5, 2)]
    assert ev.predict_proba(model, faces[:, :, :, 0]).shape == (5, 7)  # (N, 48, 48) is accepted
    assert ev.predict_proba(model, faces[0]).shape == (1, 7)  # one face
    assert ev.predict_proba(model, faces[:0]).shape == (0, 7)
    with pytest.raises(ValueError, match="48, 48, 1"):
        ev.predict_proba(model, np.zeros((2, 64, 64, 3)))


def _half_brightness_model(strength: float = 4.0):
    """Softmax over logits: class 0 = strength * mean of the left half, class 1 = of the right half."""
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    dense = keras.layers.Dense(7, activation="softmax")
    model = keras.Model(inputs, dense(x))
    kernel = np.zeros((48, 48, 7), np.float32)
    kernel[:, :24, 0] = strength / (48 * 24)
    kernel[:, 24:, 1] = strength / (48 * 24)
    dense.set_weights([kernel.reshape(48 * 48, 7), np.zeros(7, np.float32)])
    return model


def _softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def test_tta_on_an_asymmetric_model_averages_image_and_mirror():
    model = _half_brightness_model(4.0)
    face = np.zeros((1, 48, 48, 1), np.uint8)
    face[:, :, :24] = 255  # bright left half
    plain = ev.predict_proba(model, face)[0]
    np.testing.assert_allclose(plain, _softmax(np.array([4.0, 0, 0, 0, 0, 0, 0])), rtol=1e-4)
    tta = ev.predict_with_tta(model, face)[0]
    expected = (_softmax(np.array([4.0, 0, 0, 0, 0, 0, 0])) + _softmax(np.array([0, 4.0, 0, 0, 0, 0, 0]))) / 2
    np.testing.assert_allclose(tta, expected, rtol=1e-4)
    assert tta[0] == pytest.approx(tta[1], rel=1e-4)  # mirror-averaging makes the halves equal

    crops = ev.predict_with_tta(model, face, crops=True)
    assert crops.shape == (1, 7) and crops.sum() == pytest.approx(1, rel=1e-4)
    assert len(ev.tta_views(face, crops=True)) == 6
    flat = np.full((2, 48, 48, 1), 77, np.uint8)  # every view of a flat image is the same image
    np.testing.assert_allclose(ev.predict_with_tta(model, flat, crops=True), ev.predict_proba(model, flat), rtol=1e-4)

    effect = ev.tta_effect(model, np.concatenate([face, face[:, :, ::-1]]), [0, 1])
    assert list(effect.index) == ["no TTA", "flip", "flip + 4 shifted crops"]
    assert effect.loc["no TTA", "accuracy"] == 1.0


def test_show_misclassified_orders_by_confidence():
    import matplotlib.pyplot as plt

    probs = np.full((4, 7), 0.01)
    probs[0, 0], probs[1, 2], probs[2, 3], probs[3, 4] = 0.9, 0.5, 0.8, 0.3  # faces 1, 2 and 3 are wrong
    shown = ev.show_misclassified(np.zeros((4, 48, 48, 1), np.uint8), [0, 1, 1, 1], probs, n=2)
    assert shown.tolist() == [2, 1]
    plt.close("all")


def test_reference_points_include_computed_baseline_and_sources():
    y_train = np.array([3] * 5 + [0] * 2)
    y_test = np.array([3, 3, 0, 1])
    assert ev.majority_class_accuracy(y_train, y_test) == (3, 0.5)
    table = ev.reference_points(y_train, y_test, model_accuracy=0.6)
    assert table.loc["Majority class (always 'happy')", "accuracy %"] == pytest.approx(50)
    assert table.loc["this model (course test split)", "accuracy %"] == pytest.approx(60)
    assert table.loc["Human accuracy (estimate)", "accuracy %"] == pytest.approx(65)
    assert table.loc["Tang 2013 (challenge winner)", "accuracy %"] == pytest.approx(71.2)
    assert table.loc["Khaireddin & Chen 2021", "accuracy %"] == pytest.approx(73.28)
    assert table["source"].str.len().min() > 5


def test_label_rejections_rank_by_probability_of_the_given_label():
    probs = np.array([[0.9, 0.1] + [0] * 5, [0.2, 0.8] + [0] * 5, [0.6, 0.4] + [0] * 5])
    table = ev.label_rejections(probs, [1, 1, 0])
    assert table.index.tolist() == [0, 2, 1]
    np.testing.assert_allclose(table["p_label"], [0.1, 0.6, 0.8])
    assert table["predicted"].tolist() == ["angry", "angry", "disgust"]
    assert len(ev.label_rejections(probs, [1, 1, 0], n=1)) == 1


def _tiny_compiled():
    import keras

    model = _half_brightness_model(1.0)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def test_out_of_fold_probabilities_scores_every_image_once():
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (24, 48, 48, 1)).astype(np.uint8)
    labels = np.repeat([0, 1, 2], 8)
    probs = ev.out_of_fold_probabilities(_tiny_compiled, faces, labels, folds=2, epochs=1)
    assert probs.shape == (24, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-4)


def test_lesson_model_trains_a_tiny_model_when_nothing_is_saved(monkeypatch, tmp_path):
    from helpers.data import Split

    monkeypatch.setattr(pretrained, "pretrained_available", lambda: False)
    rng = np.random.default_rng(0)
    split = Split("train", rng.integers(0, 256, (14, 48, 48, 1)).astype(np.uint8), np.arange(14) % 7)
    model, description = ev.lesson_model({"train": split}, saved=tmp_path / "missing.keras", epochs=1, verbose=0)
    assert "tiny" in description
    assert ev.predict_proba(model, split.images).shape == (14, 7)


def test_lesson_model_prefers_the_pretrained_model(monkeypatch, tmp_path):
    stand_in = _half_brightness_model()
    monkeypatch.setattr(pretrained, "pretrained_available", lambda: True)
    monkeypatch.setattr(pretrained, "load_pretrained", lambda: stand_in)
    model, description = ev.lesson_model({}, saved=tmp_path / "missing.keras")
    assert model is stand_in and "pretrained" in description

    monkeypatch.setattr(pretrained, "pretrained_available", lambda: False)  # no model file: fall back (here: lesson 05's file)
    saved = tmp_path / "best.keras"
    stand_in.save(saved)
    monkeypatch.setenv("FER_QUICK", "0")
    model, description = ev.lesson_model({}, saved=saved)
    assert "lesson 05" in description and ev.predict_proba(model, np.zeros((1, 48, 48, 1))).shape == (1, 7)


def test_lesson_model_mine_puts_the_students_model_first(monkeypatch, tmp_path, capsys):
    shipped, students = _half_brightness_model(), _half_brightness_model()
    monkeypatch.setattr(pretrained, "pretrained_available", lambda: True)
    monkeypatch.setattr(pretrained, "load_pretrained", lambda: shipped)
    saved = tmp_path / "best.keras"
    students.save(saved)
    model, description = ev.lesson_model({}, saved=saved, mine=True)  # in quick mode too
    assert model is not shipped and "lesson 05" in description
    assert ev.predict_proba(model, np.zeros((1, 48, 48, 1))).shape == (1, 7)
    model, description = ev.lesson_model({}, saved=tmp_path / "missing.keras", mine=True)  # no file: said, then the next in line
    assert model is shipped and "pretrained" in description and "no model at" in capsys.readouterr().out
