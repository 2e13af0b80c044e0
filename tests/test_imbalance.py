"""helpers.imbalance's lesson-03 tools (targeted oversampling, the bootstrap margin, the remedy
comparison on fixed features, features of a model) and helpers.augmentation.single_view."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import CLASS_NAMES, imbalance


def test_oversample_rare_indices_tops_up_only_the_small_classes():
    labels = np.array([0] * 10 + [1] * 2 + [3] * 5 + [6] * 7)
    index = imbalance.oversample_rare_indices(labels, 6, seed=0)
    assert np.bincount(labels[index], minlength=7).tolist() == [10, 6, 0, 6, 0, 0, 7]
    assert set(range(len(labels))) <= set(index)  # every original kept
    np.testing.assert_array_equal(index, imbalance.oversample_rare_indices(labels, 6, seed=0))
    assert not np.array_equal(index, imbalance.oversample_rare_indices(labels, 6, seed=1))
    assert sorted(imbalance.oversample_rare_indices(labels, 0, seed=0)) == list(range(len(labels)))
    with pytest.raises(ValueError, match="min_count"):
        imbalance.oversample_rare_indices(labels, -1)


def test_macro_f1_noise_is_the_bootstrap_standard_deviation():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 300)
    predicted = np.where(rng.random(300) < 0.6, y, rng.integers(0, 7, 300))
    draws = np.random.default_rng(5).integers(0, 300, (50, 300))
    expected = np.std([f1_score(y[i], predicted[i], labels=range(7), average="macro", zero_division=0) for i in draws])
    assert imbalance.macro_f1_noise(y, predicted, n_boot=50, seed=5) == pytest.approx(expected, rel=1e-12)
    assert imbalance.macro_f1_noise(y, y, n_boot=50) < 0.05  # perfect predictions: macro-F1 near 1 on every draw


def test_class_weights_raise_the_rare_class_recall_on_fixed_features():
    """A rare class that overlaps a big one: without a remedy the classifier mostly gives it up."""
    rng = np.random.default_rng(1)
    disgust = CLASS_NAMES.index("disgust")
    sizes = {0: 400, disgust: 20, 3: 400}
    centres = {0: (0.0, 0.0), disgust: (1.2, 0.0), 3: (0.0, 3.0)}

    def draw(scale):
        x = np.concatenate([rng.normal(centres[c], 1.0, (n * scale, 2)) for c, n in sizes.items()]).astype(np.float32)
        return x, np.repeat(list(sizes), [n * scale for n in sizes.values()])

    (train_x, train_y), (val_x, val_y) = draw(1), draw(1)
    remedies = {"none": lambda x, y: (x, y, None), "class weights": lambda x, y: (x, y, imbalance.class_weights(y))}
    table, predicted = imbalance.compare_remedies_on_features(train_x, train_y, val_x, val_y, remedies)
    assert list(table.index) == ["none", "class weights"] and set(predicted) == {"none", "class weights"}
    assert table.loc["class weights", "disgust_recall"] > table.loc["none", "disgust_recall"] + 0.2
    assert table.loc["none", "val_accuracy"] > table.loc["class weights", "val_accuracy"]
    assert (table["train_images"] == len(train_y)).all()
    assert table.loc["class weights", "train_disgust_recall"] > table.loc["none", "train_disgust_recall"]  # on what it learned from
    again, _ = imbalance.compare_remedies_on_features(train_x, train_y, val_x, val_y, remedies)
    assert again.drop(columns="seconds").equals(table.drop(columns="seconds"))  # reproducible


def test_embed_gives_the_classifier_input_and_unwraps_a_flip_average():
    import keras

    from helpers import models
    from helpers.augmentation import single_view

    keras.utils.set_random_seed(0)
    network = models.build_baseline_cnn(filters=(4,))
    wrapped = models.with_flip_tta(network)
    assert single_view(wrapped) is network and single_view(network) is network
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1)).astype(np.uint8)
    features = imbalance.embed(wrapped, faces, batch_size=2, progress=False)
    dense = [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)][-1]
    assert features.shape == (5, dense.input.shape[-1]) and features.dtype == np.float32
    probs = keras.ops.convert_to_numpy(dense(features))
    np.testing.assert_allclose(probs, network.predict(faces, verbose=0), rtol=1e-4, atol=1e-5)


def test_macro_f1_is_sklearns_with_every_class_counted():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    for n, classes in [(500, 7), (40, 3), (7, 1)]:  # some classes absent from labels and predictions
        y, p = rng.integers(0, classes, n), rng.integers(0, classes, n)
        expected = f1_score(y, p, labels=range(7), average="macro", zero_division=0)
        assert imbalance.macro_f1(y, p) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="differ in shape"):
        imbalance.macro_f1(np.zeros(3, int), np.zeros(4, int))


def test_compare_remedies_saves_its_runs_under_runs_dir_and_returns_paired_predictions(monkeypatch, tmp_path, capsys):
    from helpers import Split, models, seed_everything

    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    rng = np.random.default_rng(0)
    labels = np.arange(140) % 7
    images = np.clip(20 + 33 * labels[:, None, None, None] + rng.normal(0, 8, (140, 48, 48, 1)), 0, 255).astype(np.uint8)
    train, val = Split("train", images[:98], labels[:98]), Split("val", images[98:], labels[98:])
    seed_everything(0)
    table, predicted = imbalance.compare_remedies(
        train, val, build=lambda: models.build_workshop_cnn(augment=None, widths=(4,)), epochs=1, batch_size=32,
        remedies=("none", "class weights"), return_predictions=True)
    assert f"Runs saved in {tmp_path / 'runs' / 'imbalance'}" in capsys.readouterr().out
    assert (tmp_path / "runs" / "imbalance" / "class_weights" / "log.csv").is_file()
    assert list(table.index) == ["none", "class weights"] and set(predicted) == {"none", "class weights"}
    for remedy, p in predicted.items():  # the predictions are the ones the table scored
        assert p.shape == (len(val),) and p.dtype == np.int64
        assert table.loc[remedy, "val_accuracy"] == pytest.approx(float(np.mean(p == val.labels)))
    with pytest.raises(ValueError, match="unknown remedy 'smote'"):
        imbalance.compare_remedies(train, val, remedies=("none", "smote"))
