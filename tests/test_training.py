"""helpers.training and helpers.imbalance: labels, compile, resume after SIGKILL, reproducibility, saving.

The kill-and-resume and reproducibility tests run training in subprocesses (isolation: a fresh
process per run, as after a kernel restart) on ~300 offline faces with a tiny CNN.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import helpers
from helpers import Split

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    import keras
    import helpers
    from helpers import models, training

    data, run_dir, epochs = np.load(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    pause_after = int(os.environ.get("PAUSE_AFTER_EPOCH", "0"))
    train = helpers.Split("train", data["x_train"], data["y_train"])
    val = helpers.Split("val", data["x_val"], data["y_val"])
    helpers.seed_everything(7)
    model = training.compile_model(models.build_baseline_cnn(augment=True, filters=(8, 16)))

    class Trace(keras.callbacks.Callback):  # runs after the course's callbacks (backup written)
        def on_epoch_begin(self, epoch, logs=None):
            with open(sys.argv[4], "a") as f:
                f.write(f"{os.getpid()} {epoch}\\n")

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == pause_after:
                print("PAUSED", flush=True)
                time.sleep(600)

    history = training.train(model, train, val, run_dir, epochs, batch_size=32, lr_schedule="cosine",
                             verbose=0, seed=7, callbacks=[Trace()])
    states = [int(v.numpy()[0]) for v in model.variables if v.path.endswith("seed_generator_state")]
    print("RESULT " + json.dumps({"val_loss": history["val_loss"].tolist(),
                                  "val_accuracy": history["val_accuracy"].tolist(), "first_state": states[0]}), flush=True)
    """
)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    """~300 offline training faces and 70 validation faces, saved for the subprocesses."""
    splits = helpers.load_course_data("offline", quick=True, verbose=False)
    train, val = splits["train"], splits["val"]
    keep = np.sort(np.random.default_rng(0).choice(len(train), 280, replace=False))
    folder = tmp_path_factory.mktemp("training_data")
    np.savez(folder / "data.npz", x_train=train.images[keep], y_train=train.labels[keep],
             x_val=val.images[:70], y_val=val.labels[:70])
    (folder / "child.py").write_text(CHILD)
    return folder


def child_env(**extra) -> dict:
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    env.pop("PAUSE_AFTER_EPOCH", None)
    return {**env, **extra}


def run_child(folder: Path, run_dir: Path, epochs: int, trace: Path) -> dict:
    out = subprocess.run([sys.executable, str(folder / "child.py"), str(folder / "data.npz"), str(run_dir), str(epochs), str(trace)],
                         capture_output=True, text=True, env=child_env(), timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_killed_run_resumes_from_last_completed_epoch(small_data, tmp_path):
    run_dir, trace = tmp_path / "run", tmp_path / "epochs.txt"
    proc = subprocess.Popen(
        [sys.executable, str(small_data / "child.py"), str(small_data / "data.npz"), str(run_dir), "4", str(trace)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(PAUSE_AFTER_EPOCH="2"), cwd=ROOT,
    )
    try:
        deadline = time.time() + 90
        line = ""
        while time.time() < deadline and "PAUSED" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                pytest.fail("training process ended before epoch 2: " + proc.stderr.read()[-3000:])
        assert "PAUSED" in line, "training did not reach epoch 2 in time"
        meta = json.loads((run_dir / "backup" / "training_metadata.json").read_text())
        assert meta["epoch"] == 2, meta  # the 2nd epoch's backup exists
        os.kill(proc.pid, signal.SIGKILL)  # no clean-up code runs
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (run_dir / "done.json").exists()

    result = run_child(small_data, run_dir, 4, trace)
    starts = [line.split() for line in trace.read_text().splitlines()]
    first_pid = starts[0][0]
    assert [int(e) for p, e in starts if p == first_pid] == [0, 1]  # killed while paused after epoch 2
    assert [int(e) for p, e in starts if p != first_pid] == [2, 3]  # resumed at the 3rd epoch
    log = pd.read_csv(run_dir / "log.csv")
    assert log["epoch"].tolist() == [0, 1, 2, 3]  # every epoch once, exactly the requested number
    assert len(result["val_loss"]) == 4
    from helpers.training import resume_seed

    assert result["first_state"] == resume_seed(7, 2), "the resumed run reseeded its augmentation"
    assert json.loads((run_dir / "done.json").read_text())["epochs_run"] == 4
    assert (run_dir / "best.keras").is_file() and not (run_dir / "backup").exists()


def test_same_seed_same_validation_metrics(small_data, tmp_path):
    first = run_child(small_data, tmp_path / "a", 2, tmp_path / "a.txt")
    second = run_child(small_data, tmp_path / "b", 2, tmp_path / "b.txt")
    assert first == second, (first, second)


# --------------------------------------------------------------------------- in-process


def test_a_resumed_run_augments_anew_instead_of_replaying_its_start():
    """Keras keeps the random generators' state out of the saved weights, so a model rebuilt after
    an interruption draws its first augmentations again; train() reseeds it from resume_seed."""
    from helpers import models, training
    from helpers.augmentation import augmentation_block

    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")

    def built():
        return models.build_baseline_cnn(augment=augmentation_block(seed=3), filters=(8,))

    def first_draw(model):
        return np.asarray(model.get_layer("augmentation")(faces, training=True))

    start = first_draw(built())
    assert np.allclose(first_draw(built()), start)  # the problem: rebuilt, it replays the start
    resumed = built()
    assert training.reseed_random_layers(resumed, training.resume_seed(3, 2)) >= 6  # one per random layer at least
    assert not np.allclose(first_draw(resumed), start)

    assert training.resume_seed(3, 0) == 3  # a new run keeps its seed
    assert training.resume_seed(3, 2) == training.resume_seed(3, 2) != 3  # reproducible, and new
    assert len({training.resume_seed(3, 2), training.resume_seed(3, 3), training.resume_seed(3, 0, "from x")}) == 3


@pytest.fixture(scope="module")
def tiny(small_data):
    from helpers import models, training

    data = np.load(small_data / "data.npz")
    train = Split("train", data["x_train"][:128], data["y_train"][:128])
    val = Split("val", data["x_val"], data["y_val"])
    helpers.seed_everything(3)
    model = training.compile_model(models.build_baseline_cnn(augment=True, filters=(4, 8)))
    return model, train, val


def test_one_hot_and_labels_out_of_range():
    from helpers.training import one_hot

    np.testing.assert_array_equal(one_hot(np.array([0, 6, 3])), np.eye(7, dtype=np.float32)[[0, 6, 3]])
    assert one_hot(np.array([], dtype=int)).shape == (0, 7)
    with pytest.raises(ValueError, match="0..6"):
        one_hot(np.array([7]))


def test_class_weights_and_oversampling():
    from helpers.imbalance import class_weights, oversample, oversample_indices

    labels = np.array([0] * 10 + [1] * 2 + [3] * 4)
    weights = class_weights(labels)
    assert set(weights) == {0, 1, 3}
    assert weights[1] == pytest.approx(16 / (3 * 2)) and weights[0] == pytest.approx(16 / (3 * 10))
    index = oversample_indices(labels, seed=0)
    assert np.bincount(labels[index]).tolist() == [10, 10, 0, 10]
    assert set(np.flatnonzero(labels >= 0)) <= set(index)  # every original image kept
    np.testing.assert_array_equal(index, oversample_indices(labels, seed=0))
    split = oversample(Split("t", np.zeros((16, 48, 48, 1), np.uint8), labels))
    assert len(split) == 30


def test_compile_uses_adam_and_categorical_crossentropy(tiny):
    import keras

    from helpers import models, training

    model = training.compile_model(models.build_baseline_cnn(filters=(4,)), learning_rate=3e-4, label_smoothing=0.1)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(3e-4)
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)


def test_finished_run_is_not_retrained_and_other_settings_refused(tiny, tmp_path, capsys):
    from helpers import models, training

    model, train, val = tiny
    history = training.train(model, train, val, tmp_path / "run", epochs=2, batch_size=64, verbose=0)
    assert history["epoch"].tolist() == [0, 1] and {"loss", "val_accuracy", "learning_rate"} <= set(history)
    again = training.train(model, train, val, tmp_path / "run", epochs=2, batch_size=64, verbose=0)
    assert "already holds a finished run" in capsys.readouterr().out
    pd.testing.assert_frame_equal(history, again)
    with pytest.raises(ValueError, match="different settings"):
        training.train(model, train, val, tmp_path / "run", epochs=3, batch_size=64, verbose=0)
    with pytest.raises(ValueError, match="lr_schedule"):
        training.train(model, train, val, tmp_path / "other", epochs=1, lr_schedule="linear")


def test_saved_model_reloads_with_identical_predictions(tiny, tmp_path):
    from helpers import training

    model, _, val = tiny
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = training.load_model(path)
    np.testing.assert_array_equal(model.predict(val.images, verbose=0), loaded.predict(val.images, verbose=0))


def test_load_model_errors_are_clear(tiny, tmp_path):
    from helpers import training

    model, _, _ = tiny
    with pytest.raises(FileNotFoundError, match="lesson 05"):
        training.load_model(tmp_path / "missing.keras")
    good = tmp_path / "good.keras"
    model.save(good)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated"):
        training.load_model(truncated)
    text = tmp_path / "notes.keras"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="not a Keras model archive"):
        training.load_model(text)
    h5 = tmp_path / "weights.keras"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match="HDF5"):
        training.load_model(h5)
    with pytest.raises(ValueError, match=r"\.keras"):
        training.load_model(good.rename(tmp_path / "model.h5"))


def test_training_module_imports_neither_keras_nor_tensorflow():
    code = ("import sys, helpers.training, helpers.imbalance; "
            "assert not {'keras', 'tensorflow'} & set(sys.modules), sorted(m for m in sys.modules if 'tens' in m or 'keras' in m)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]


def test_train_under_jax_without_tensorflow(small_data, tmp_path):
    """With KERAS_BACKEND=jax and TensorFlow made unimportable, train feeds NumPy arrays."""
    import importlib.util

    if importlib.util.find_spec("jax") is None:
        pytest.skip("JAX is not installed in this environment")
    code = textwrap.dedent(f"""
        import importlib.abc, sys

        class NoTensorFlow(importlib.abc.MetaPathFinder):  # as if TensorFlow were not installed
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "tensorflow":
                    raise ModuleNotFoundError("No module named 'tensorflow'")

        sys.meta_path.insert(0, NoTensorFlow())
        import numpy as np, helpers
        from helpers import models, training
        d = np.load({str(small_data / 'data.npz')!r})
        tr, va = helpers.Split("t", d["x_train"][:64], d["y_train"][:64]), helpers.Split("v", d["x_val"], d["y_val"])
        m = training.compile_model(models.build_baseline_cnn(augment=True, filters=(4,)))
        h = training.train(m, tr, va, {str(tmp_path / 'jax')!r}, epochs=2, oversample=True, verbose=0)
        assert h["epoch"].tolist() == [0, 1]
        assert training.distribution_strategy() is None
        assert "tensorflow" not in sys.modules
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=child_env(KERAS_BACKEND="jax"), cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]


def test_tf_dataset_pipeline_and_strategy():
    from helpers import training

    labels = np.array([0, 0, 0, 1, 2])
    split = Split("t", np.arange(5 * 48 * 48, dtype=np.uint32).reshape(5, 48, 48, 1).astype(np.uint8), labels)
    batches = list(training.make_dataset(split, batch_size=4, shuffle=True, oversample=True).as_numpy_iterator())
    y = np.concatenate([b[1] for b in batches])
    assert y.shape == (9, 7) and y.sum(axis=0)[:3].tolist() == [3, 3, 3]
    assert batches[0][0].dtype == np.uint8 and batches[0][0].shape[1:] == (48, 48, 1)
    assert training.distribution_strategy().num_replicas_in_sync >= 1


# --------------------------------------------------------------------------- modes, live curves, range test, precision


@pytest.mark.parametrize("env, expected", [
    ({}, "full"), ({"FER_MODE": "workshop"}, "workshop"), ({"FER_MODE": " Quick "}, "quick"),
    ({"FER_QUICK": "1"}, "quick"), ({"FER_QUICK": "1", "FER_MODE": "workshop"}, "quick"), ({"FER_MODE": "full"}, "full"),
])
def test_run_mode_from_the_environment(monkeypatch, env, expected):
    from helpers import course, session

    for key in ("FER_MODE", "FER_QUICK"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert course.run_mode() == expected
    assert course.is_quick() == (expected == "quick") and course.is_workshop() == (expected == "workshop")
    assert course.by_mode(quick=1, workshop=2, full=3) == {"quick": 1, "workshop": 2, "full": 3}[expected]
    banner = str(session.CourseInfo("t", expected == "quick", "x", "y", False, 1, expected))
    assert f"mode:   {expected.upper()}" in banner and "FER_MODE=" in banner  # says the mode and how to change it


def test_an_unknown_mode_is_a_clear_error(monkeypatch):
    from helpers import course

    monkeypatch.delenv("FER_QUICK", raising=False)
    monkeypatch.setenv("FER_MODE", "fast")
    with pytest.raises(ValueError, match="quick, workshop, full"):
        course.run_mode()


def _tiny_split(n: int = 128, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, n)
    images = np.clip(20 + 33 * labels[:, None, None, None] + rng.normal(0, 8, (n, 48, 48, 1)), 0, 255).astype(np.uint8)
    return Split("tiny", images, labels)


def test_lr_range_test_raises_the_rate_records_the_loss_and_restores_the_model():
    from helpers import models, training, tuning

    helpers.seed_everything(0)
    model = training.compile_model(models.build_workshop_cnn(augment=None, widths=(4, 8)), learning_rate=1e-3)
    before = [w.copy() for w in model.get_weights()]
    result = tuning.lr_range_test(model, _tiny_split(), start=1e-5, end=10.0, steps=30, batch_size=16)
    assert list(result.columns) == ["learning_rate", "loss", "smoothed"]
    assert 5 <= len(result) <= 30 and (np.diff(result["learning_rate"]) > 0).all()
    assert np.isclose(result["learning_rate"].iloc[0], 1e-5)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert np.isclose(float(np.asarray(model.optimizer.learning_rate)), 1e-3)
    with pytest.raises(ValueError, match="compiled"):
        tuning.lr_range_test(models.build_workshop_cnn(augment=None, widths=(4,)), _tiny_split())
    fig = tuning.plot_lr_range(result, chosen=1e-3)
    assert fig.axes[0].get_xscale() == "log"


def test_train_prints_a_time_estimate_and_live_text_outside_jupyter(tmp_path, capsys):
    from helpers import models, training

    helpers.seed_everything(0)
    model = training.compile_model(models.build_workshop_cnn(augment=None, widths=(4, 8)))
    data = _tiny_split(640)
    training.train(model, data, _tiny_split(64, 1), tmp_path / "run", epochs=2, batch_size=16, live=True, verbose=2)
    out = capsys.readouterr().out
    assert "about" in out and "on this machine" in out  # measured from the first steps
    assert "epoch 1/2:" in out and "epoch 2/2:" in out and "val_accuracy" in out  # the live curves' text fallback


def test_plot_history_draws_the_reference_behind():
    from helpers import curves

    ref = curves.reference_history()
    assert len(ref) == 108 and list(ref["run"].unique()) == [5, 6, 13]
    assert ref["val_accuracy"].between(0, 1).all() and ref["epoch"].tolist() == list(range(108))
    history = pd.DataFrame({"epoch": [0, 1], "loss": [1.8, 1.5], "accuracy": [0.3, 0.4], "val_loss": [1.7, 1.6],
                            "val_accuracy": [0.32, 0.41]})
    fig = curves.plot_history(history, reference=ref, total_epochs=10)
    labels = [l.get_label() for l in fig.axes[1].get_lines()]
    assert any("reference" in label for label in labels)
    assert len(fig.axes[1].get_lines()[-1].get_ydata()) == 10  # the reference over the plot's 10 epochs


def test_choose_precision_measures_both_and_keeps_float32_unless_bf16_is_faster():
    from helpers import models, tuning

    data = _tiny_split(64)
    choice, speeds = tuning.choose_precision(lambda: models.build_workshop_cnn(augment=None, widths=(4,)),
                                               data.images, data.labels, steps=2)
    assert set(speeds) == {"float32", "mixed_bfloat16"} and all(v > 0 for v in speeds.values())
    assert choice == ("mixed_bfloat16" if speeds["mixed_bfloat16"] >= 1.1 * speeds["float32"] else "float32")
    import keras

    assert keras.config.dtype_policy().name == "float32"  # restored


def test_format_duration():
    from helpers.curves import format_duration

    assert format_duration(42) == "42 s" and format_duration(150) == "2.5 minutes" and format_duration(7200) == "2.0 hours"


def test_training_budget_stops_fit_mid_epoch_by_steps_or_seconds_and_validation_still_runs(tmp_path):
    from helpers import models, training

    class Bar:  # what the callback needs of a tqdm bar
        total = 0.0

        def update(self, n):
            self.total += n

    data, val = _tiny_split(640), _tiny_split(64, 1)  # 40 steps of 16 per epoch
    helpers.seed_everything(0)
    model = training.compile_model(models.build_workshop_cnn(augment=None, widths=(4, 8)))
    bar = Bar()
    by_steps = training.training_budget(max_steps=5, progress=bar)
    history = training.train(model, data, val, tmp_path / "steps", epochs=3, batch_size=16, callbacks=[by_steps],
                             lr_schedule=None, patience=None, live=False, verbose=0, estimate=False)
    assert by_steps.steps == 5 and bar.total == 5  # stopped inside the first epoch
    assert len(history) == 1 and np.isfinite(history["val_accuracy"].iloc[0])  # which was still validated
    assert by_steps.first_step_seconds > 0 and by_steps.seconds > 0

    by_time = training.training_budget(seconds=0.3, progress=(bar := Bar()))
    training.train(model, data, val, tmp_path / "seconds", epochs=50, batch_size=16, callbacks=[by_time],
                   lr_schedule=None, patience=None, live=False, verbose=0, estimate=False)
    assert 2 <= by_time.steps < 50 * 40  # the first step's time is not counted; stopped long before 50 epochs
    assert 0.3 <= by_time.seconds < 0.3 + 5.0 and bar.total == pytest.approx(0.3)  # the bar fills exactly its budget
    with pytest.raises(ValueError, match="seconds=... or max_steps"):
        training.training_budget()
