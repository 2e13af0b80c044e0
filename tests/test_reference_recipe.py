"""The reference recipe as a command: it trains, resumes after a kill, exports the course's contract.

``python -m tools.reference train`` and ``... evaluate`` (and ``ensemble``) run in subprocesses on a small
offline dataset written as an original-format ``fer2013.csv`` (Training / PublicTest /
PrivateTest), with the compact recipe so that an epoch takes a few seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory) -> Path:
    from helpers.offline import make_faces

    # 300 training faces: what these tests check (resuming, exporting, the card) needs epochs, not many
    # faces, and an epoch's CPU time grows with them (16 s for the compact recipe on 1,000 faces, 2 cores)
    images, labels = make_faces(440, seed=5)
    usage = ["Training"] * 300 + ["PublicTest"] * 70 + ["PrivateTest"] * 70
    path = tmp_path_factory.mktemp("recipe") / "fer2013.csv"
    rows = ["emotion,pixels,Usage"] + [
        f"{y},{' '.join(map(str, img.reshape(-1)))},{u}" for img, y, u in zip(images, labels, usage)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def _tool(name: str):
    """A module of the reference tool, ``tools.reference.<name>`` (the repository root on the path while importing)."""
    import importlib

    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module(f"tools.reference.{name}")
    finally:
        sys.path.remove(str(ROOT))


def _env() -> dict:
    return {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


def _train_cmd(csv: Path, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tools.reference", "train", "--data", str(csv), "--run-dir", str(run_dir),
            "--recipe", "compact", "--batch-size", "32", "--epochs", "3", *extra]


def _logged_epochs(run_dir: Path) -> list[int]:
    lines = (run_dir / "log.csv").read_text().splitlines()[1:]
    return [int(line.split(",")[0]) for line in lines if line]


def test_killed_recipe_resumes_and_exports_the_contract(tiny_csv, tmp_path):
    run_dir = tmp_path / "run"
    export = tmp_path / "model.keras"
    cmd = _train_cmd(tiny_csv, run_dir, "--export", str(export))
    first = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None:  # kill it as soon as epoch 1 is logged
        if (run_dir / "log.csv").exists() and _logged_epochs(run_dir):
            first.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL, "the first run should have been killed after epoch 1"
    assert _logged_epochs(run_dir) == [0]
    assert "this sitting's shuffles and augmentation: 42)" in first.stdout.read()

    second = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "this sitting's shuffles and augmentation: 42)" not in second.stdout, "a resumed sitting draws anew"
    assert _logged_epochs(run_dir) == [0, 1, 2], "each epoch once, none repeated after the restart"
    result = json.loads((run_dir / "result.json").read_text())
    assert result["epochs_run"] == 3
    assert result["command"].startswith("python -m tools.reference train --data ")
    assert 0.0 <= result["val_accuracy_flip_tta"] <= 1.0

    from helpers import CLASS_NAMES
    from helpers.training import load_model

    model = load_model(export)
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1)).astype("uint8")  # raw pixels 0-255
    probs = np.asarray(model.predict(faces, verbose=0))
    assert probs.shape == (5, len(CLASS_NAMES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert (tmp_path / "model_plain.keras").is_file()

    again = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "finished run" in again.stderr, "a finished run is not silently retrained"

    # a distillation sitting: the exported model teaches a student that starts from the same network
    student_dir, student = tmp_path / "student", tmp_path / "student.keras"
    distilled = subprocess.run(
        _train_cmd(tiny_csv, student_dir, "--epochs", "1", "--teacher", str(tmp_path / "model_plain.keras"),
                   "--init-from", str(run_dir / "best.keras"), "--export", str(student), "--draw-seed", "7"),
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert distilled.returncode == 0, distilled.stdout[-3000:] + distilled.stderr[-3000:]
    assert "teacher:" in distilled.stdout
    sitting = json.loads((student_dir / "result.json").read_text())
    assert sitting["teacher"] == [str(tmp_path / "model_plain.keras")] and sitting["teacher_weight"] == 0.5
    from helpers.training import resume_seed

    assert (sitting["seed"], sitting["draw_seed"]) == (42, 7), "both seeds are recorded"
    assert f"augmentation: {resume_seed(7, 0, str(run_dir / 'best.keras'))})" in distilled.stdout
    assert np.asarray(load_model(student).predict(faces, verbose=0)).shape == (5, len(CLASS_NAMES))
    from helpers.augmentation import Augmentation
    from helpers.explain import networks_in

    exported = networks_in(load_model(tmp_path / "student_plain.keras"))[0]
    assert any(isinstance(l, Augmentation) for l in exported.layers), "trained outside, exported with it inside"

    evaluated = subprocess.run(
        [sys.executable, "-m", "tools.reference", "evaluate", str(export), "--data", str(tiny_csv),
         "--run-dir", str(run_dir), "--latency-repeats", "5"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "test: accuracy" in evaluated.stdout and "val: accuracy" in evaluated.stdout

    # two networks -> one file: the form is chosen on validation and keeps the contract
    combined = tmp_path / "ensemble" / "model.keras"
    ensembled = subprocess.run(
        [sys.executable, "-m", "tools.reference", "ensemble", str(export), str(tmp_path / "model_plain.keras"),
         "--data", str(tiny_csv), "--out", str(combined), "--max-ms", "1000", "--subsets", "--latency-repeats", "5"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert ensembled.returncode == 0, ensembled.stderr[-3000:]
    chosen = json.loads((combined.parent / "candidates.json").read_text())
    assert set(chosen["candidates"]) == {"member 1", "member 1 + flip", "member 2", "member 2 + flip",
                                         "ensemble", "ensemble + flip"}
    assert all(len(r["latency"]["round_medians_ms"]) == 3 for r in chosen["candidates"].values())  # each timed
    best = max(r["val_accuracy"] for r in chosen["candidates"].values())
    assert [t["members"] for t in chosen["teachers"]] == [["member 1", "member 2"]]
    teacher, same = chosen["teachers"][0]["val_accuracy"], chosen["candidates"]["ensemble + flip"]["val_accuracy"]
    assert abs(teacher - same) <= 1 / 70  # the same average (a near-tie may fall the other way)
    assert chosen["candidates"][chosen["chosen"]]["val_accuracy"] == best
    probs = np.asarray(load_model(combined).predict(faces, verbose=0))
    assert probs.shape == (5, len(CLASS_NAMES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)

    card_dir = tmp_path / "card"
    evaluated = subprocess.run(
        [sys.executable, "-m", "tools.reference", "evaluate", str(combined), "--data", str(tiny_csv),
         "--member", f"{run_dir},{run_dir}", "--member", str(run_dir), "--write", str(card_dir),
         "--latency-repeats", "5"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    card = (card_dir / "MODEL_CARD.md").read_text()
    assert f"Chosen: **{chosen['chosen']}**" in card and "batch norm folded" in card
    assert "the CSV's PrivateTest (70 images)" in card and "the CSV's PublicTest (70 images)" in card
    if chosen["chosen"].startswith("ensemble"):
        assert "the average of the probabilities of 2 networks" in card and "| 2 | 1 |" in card
    else:  # one member: the card describes that network's sittings only
        assert "| architecture | one network" in card and "| 2 | 1 |" not in card

    wrong = subprocess.run(  # a single network described as two is refused
        [sys.executable, "-m", "tools.reference", "evaluate", str(export), "--data", str(tiny_csv),
         "--member", str(run_dir), "--member", str(run_dir)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert wrong.returncode != 0 and "holds 1 network(s) but 2 were described" in wrong.stderr


def test_the_shipped_model_can_be_trained_further(tiny_csv, tmp_path):
    # data/fer_reference.keras is a serving export (batch norm folded): --init-from unfolds it
    run_dir = tmp_path / "further"
    cmd = _train_cmd(tiny_csv, run_dir, "--recipe", "vgg-default", "--epochs", "1", "--augment", "none",
                     "--init-from", str(ROOT / "data" / "fer_reference.keras"))
    done = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "initialised from" in done.stdout and "now unfolded" in done.stdout and _logged_epochs(run_dir) == [0]
    wrong = subprocess.run(_train_cmd(tiny_csv, tmp_path / "wrong", "--init-from", str(ROOT / "data" / "fer_reference.keras")),
                           cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=400)
    assert wrong.returncode != 0 and "does not match --recipe compact" in wrong.stderr


def test_augmenting_outside_the_network_exports_the_same_contract(tiny_csv, tmp_path):
    # --augment-outside (for Keras on JAX with a GPU, run 15): batches are augmented before the network
    from helpers.augmentation import Augmentation
    from helpers.explain import networks_in
    from helpers.training import load_model

    run_dir = tmp_path / "outside"
    done = subprocess.run(_train_cmd(tiny_csv, run_dir, "--epochs", "1", "--augment-outside",
                                     "--export", str(tmp_path / "model.keras")),
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "augmentation: outside the network" in done.stdout and _logged_epochs(run_dir) == [0]
    trained = load_model(run_dir / "best.keras")
    assert not any(isinstance(layer, Augmentation) for layer in networks_in(trained)[0].layers)  # not twice
    assert json.loads((run_dir / "result.json").read_text())["augment_outside"] is True
    model = load_model(tmp_path / "model_plain.keras")
    assert any(isinstance(layer, Augmentation) for layer in networks_in(model)[0].layers)  # as every other run
    faces = np.random.default_rng(3).integers(0, 256, (3, 48, 48, 1)).astype("uint8")
    np.testing.assert_allclose(np.asarray(model.predict(faces, verbose=0)).sum(axis=1), 1.0, atol=1e-4)


def test_a_resumed_sitting_draws_new_shuffles_and_augmentation(tmp_path):
    """Keras restores weights and the epoch, not the random generators: without a new seed a
    resumed sitting would replay the first sitting's shuffles and augmented faces."""
    tr = _tool("train")
    assert tr.sitting_seed(42, tmp_path) == 42  # a new run: the seed as given
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "training_metadata.json").write_text('{"epoch": 5, "batch": 0}')
    resumed = tr.sitting_seed(42, tmp_path)
    assert resumed != 42 and resumed == tr.sitting_seed(42, tmp_path)  # new, and the same on every machine
    (tmp_path / "backup" / "training_metadata.json").write_text('{"epoch": 9, "batch": 0}')
    assert tr.sitting_seed(42, tmp_path) not in (42, resumed)  # each resume point its own
    assert tr.sitting_seed(42, tmp_path / "next", "runs/reference/best.keras") != 42  # a later sitting too


def test_a_resumed_run_keeps_the_best_checkpoint_of_earlier_epochs(tmp_path):
    best_logged = _tool("train").best_logged
    log = tmp_path / "log.csv"
    assert best_logged(log) is None  # a new run: the first epoch is the best so far
    log.write_text("epoch,accuracy,val_accuracy\n0,0.3,0.41\n1,0.4,0.52\n2,0.5,NA\n3,0.5,0.47\n")
    assert best_logged(log) == 0.52  # the threshold a resumed run's ModelCheckpoint must beat


def test_distillation_targets_mix_the_label_with_the_teacher_on_the_augmented_faces():
    augmented_batches = _tool("train").augmented_batches
    import keras

    from helpers.training import one_hot

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 48, 48, 1)).astype("uint8")
    labels = np.arange(10) % 7
    teacher = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                                keras.layers.Dense(7, activation="softmax")])
    noise = np.random.default_rng(1)

    def jitter(x, training):  # a random stand-in augmentation: a new draw on every call
        assert training
        return keras.ops.convert_to_tensor(x + noise.normal(0, 20, x.shape).astype("float32"))

    batches = augmented_batches(images, labels, jitter, batch_size=4, seed=1, teacher=teacher, weight=0.3)
    assert len(batches) == 3  # 4 + 4 + 2: no face is dropped
    batches.start_epoch(0)
    order = batches.order.copy()
    epoch = [batches[i] for i in range(len(batches))]
    faces = np.concatenate([x for x, _ in epoch])
    targets = np.concatenate([y for _, y in epoch])
    assert np.abs(faces - images[order]).max() > 1  # augmented ...
    np.testing.assert_allclose(faces, images[order], atol=150)  # ... from these faces, every face once
    expected = 0.7 * one_hot(labels[order]) + 0.3 * np.asarray(teacher.predict_on_batch(faces))
    np.testing.assert_allclose(targets, expected, atol=1e-5)  # the teacher labelled the faces the student gets
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-5)

    batches.start_epoch(1)
    assert sorted(batches.order) == list(range(10)) and list(batches.order) != list(order)  # reshuffled
    again = augmented_batches(images, labels, jitter, batch_size=4, seed=1, teacher=teacher, weight=0.3)
    again.start_epoch(1)
    np.testing.assert_array_equal(again.order, batches.order)  # from the seed and the epoch: a resumed run agrees

    plain = augmented_batches(images, labels, jitter, batch_size=4, seed=1)  # --augment-outside: no teacher
    x, y = plain[2]
    assert x.shape == (2, 48, 48, 1) and np.abs(x - images[plain.order[8:]]).max() > 1
    np.testing.assert_array_equal(y, one_hot(labels[plain.order[8:]]))  # the labels themselves
    for teacher_without_weight in ({"teacher": teacher}, {"weight": 0.3}):
        with pytest.raises(ValueError, match="teacher and weight go together"):
            augmented_batches(images, labels, jitter, batch_size=4, seed=1, **teacher_without_weight)
    for weight in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="above 0 and at most 1"):
            augmented_batches(images, labels, jitter, batch_size=4, seed=1, teacher=teacher, weight=weight)


def test_a_bfloat16_teacher_labels_like_the_float32_one(tmp_path):
    teacher_model = _tool("train").teacher_model
    from helpers import models

    paths = []
    for k in range(2):
        net = models.build_compact_cnn(name=f"net{k}")
        net.set_weights([w + np.random.default_rng(k).normal(0, 0.05, w.shape).astype(w.dtype) for w in net.get_weights()])
        paths.append(tmp_path / f"net{k}.keras")
        net.save(paths[-1])
    faces = np.random.default_rng(2).integers(0, 256, (32, 48, 48, 1)).astype("float32")
    exact = np.asarray(teacher_model(paths).predict_on_batch(faces), "float32")
    fast = np.asarray(teacher_model(paths, "mixed_bfloat16").predict_on_batch(faces), "float32")
    np.testing.assert_allclose(exact.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(fast, exact, atol=0.02)
    assert not np.array_equal(fast, exact), "the bfloat16 teacher should really compute in bfloat16"


def test_distillation_settings_are_checked():
    parse_args = _tool("train").parse_args
    assert parse_args(["--data", "x", "--teacher", "t.keras"]).teacher_weight == 0.5
    assert parse_args(["--data", "x"]).teacher_weight is None
    assert parse_args(["--data", "x", "--teacher", "t.keras", "--teacher-weight", "0.8"]).teacher_weight == 0.8
    for bad in (["--teacher", "t.keras", "--teacher-weight", "0"], ["--teacher", "t.keras", "--teacher-weight", "1.2"],
                ["--teacher-weight", "0.3"], ["--teacher", "t.keras", "--class-weights"],
                ["--teacher", "t.keras", "--augment", "none"], ["--augment-outside", "--class-weights"],
                ["--augment-outside", "--augment", "none"]):
        with pytest.raises(SystemExit):
            parse_args(["--data", "x", *bad])


def test_subset_averages_rank_every_teacher():
    subset_averages = _tool("ensemble").subset_averages
    labels = np.array([0, 1, 2, 3])
    onehot = np.eye(7)[labels]
    wrong = np.eye(7)[[6, 6, 6, 6]]
    probs = {"a": onehot * 0.6 + wrong * 0.4,   # right on all four
             "b": onehot * 0.3 + wrong * 0.7,   # wrong on all four
             "c": np.vstack([onehot[:2], onehot[2:] * 0.45 + wrong[2:] * 0.55])}  # right on two, just wrong on two
    rows = subset_averages(probs, labels)
    assert [r["members"] for r in rows] == [["a", "c"], ["b", "c"], ["a", "b", "c"], ["a", "b"]]
    assert [r["val_accuracy"] for r in rows] == [1.0, 0.5, 0.5, 0.0]
    assert rows[0]["val_disgust_recall"] == 1.0 and rows[-1]["val_disgust_recall"] == 0.0


def test_ensemble_rule_respects_the_limits():
    choose = _tool("ensemble").choose
    row = lambda acc, ms, mb: {"val_accuracy": acc, "latency": {"median_ms": ms}, "size_mb": mb}  # noqa: E731
    rows = {"small": row(0.60, 2.0, 4.0), "slow": row(0.70, 9.0, 8.0), "big": row(0.69, 4.0, 12.0),
            "best allowed": row(0.65, 4.9, 9.5)}
    assert choose(rows, max_ms=5.0, max_mb=10.0) == "best allowed"
    with pytest.raises(SystemExit, match="No candidate"):
        choose({"slow": rows["slow"]}, max_ms=5.0, max_mb=10.0)


def test_latency_is_the_median_of_round_medians(monkeypatch):
    common = _tool("common")
    clock = {"now": 0.0, "calls": 0}

    class SlowerEachRound:  # a fake model on a fake clock; rounds of 10 calls after 20 warm-up calls
        def predict_on_batch(self, x):
            assert x.shape == (1, 48, 48, 1) and x.dtype == np.uint8
            clock["calls"] += 1
            timed = clock["calls"] - 21
            if timed < 0:
                ms = 1.0
            elif timed < 10:  # round 1: every call 1 ms
                ms = 1.0
            else:  # rounds 2 and 3: six slow calls (5 ms, then 6 ms) and four fast ones
                ms = (5.0 if timed < 20 else 6.0) if timed % 10 < 6 else 1.0
            clock["now"] += ms / 1000

    monkeypatch.setattr(common.time, "perf_counter", lambda: clock["now"])
    latency = common.per_face_latency_ms(SlowerEachRound(), repeats=10, rounds=3)
    assert latency["round_medians_ms"] == [1.0, 5.0, 6.0]
    assert latency["median_ms"] == 5.0  # the median of all 30 calls would be 1.0
    assert latency["p90_ms"] == 6.0


def test_candidates_are_timed_in_turns(monkeypatch):
    common = _tool("common")
    clock = {"now": 0.0}
    order = []

    class Fake:  # a model on a fake clock; the machine is busy during the third timed block of calls only
        def __init__(self, name: str, ms: float):
            self.name, self.ms = name, ms

        def predict_on_batch(self, x):
            busy = 40 + 2 * 5 <= len(order) < 40 + 3 * 5  # after 2 x 20 warm-up calls, the third block of 5
            order.append(self.name)
            clock["now"] += (10.0 if busy else self.ms) / 1000

    monkeypatch.setattr(common.time, "perf_counter", lambda: clock["now"])
    latency = common.latency_in_turns({"A": Fake("a", 3.0), "B": Fake("b", 4.0)}, repeats=5, rounds=3)
    assert order[40:] == (["a"] * 5 + ["b"] * 5) * 3  # one block of each per round
    assert latency["A"] == {"median_ms": 3.0, "p90_ms": 10.0, "round_medians_ms": [3.0, 10.0, 3.0]}
    assert latency["B"] == {"median_ms": 4.0, "p90_ms": 4.0, "round_medians_ms": [4.0, 4.0, 4.0]}


def test_a_quick_latency_is_never_published(tmp_path):
    # the tests time candidates with --latency-repeats 5; the published card's latency is 3 rounds of 200
    with pytest.raises(SystemExit, match="leave out --latency-repeats"):
        _tool("evaluate").main([str(tmp_path / "model.keras"), "--publish", "--latency-repeats", "5"])


def test_model_card_lists_every_sitting():
    model_card = _tool("evaluate").model_card
    metrics = json.loads((ROOT / "data" / "fer_reference_metrics.json").read_text())
    metrics.pop("selection", None)  # each card below says whether it has one
    first = {"command": "python tools/train_reference.py --data data/fer2013 --lr 1e-3", "epochs_run": 27,
             "minutes_this_sitting": 96.75, "augment": "default", "val_accuracy": 0.62, "val_accuracy_flip_tta": 0.625}
    second = {"command": "python tools/train_reference.py --data data/fer2013 --init-from best.keras --augment weak",
              "epochs_run": 50, "minutes_this_sitting": 120.0, "augment": "weak", "val_accuracy": 0.66,
              "val_accuracy_flip_tta": 0.665}
    card = model_card({**metrics, "members": [[first, second]], "networks": 1, "flip_tta": True})
    assert first["command"] in card and second["command"] in card
    assert "77 epochs, 217 minutes" in card
    assert "*default*" in card and "*weak*" in card
    assert "one network with horizontal-flip" in card
    assert "distilled" not in card
    taught = {**second, "teacher": ["runs/next/fer_reference_plain.keras", "runs/slim2/fer_reference_plain.keras"],
              "teacher_weight": 0.5}
    assert ("Network 1, sitting 2 was **distilled** (`--teacher`): each augmented training face's target was 50 % "
            "its label and 50 % the probabilities of `runs/next/fer_reference_plain.keras` and "
            "`runs/slim2/fer_reference_plain.keras`") in model_card(
        {**metrics, "members": [[first, taught]], "networks": 1, "flip_tta": True})
    timed = {**metrics["latency_per_face"], "median_ms": 4.1, "round_medians_ms": [4.0, 4.1, 6.3]}
    assert "median of 3 rounds' medians: 4.0, 4.1, 6.3 ms" in model_card(
        {**metrics, "members": [[first, second]], "networks": 1, "flip_tta": True, "latency_per_face": timed})

    third = {"command": "python tools/train_reference.py --data data/fer2013 --recipe vgg-slim", "epochs_run": 60,
             "minutes_this_sitting": 118.0, "augment": "default", "recipe": "vgg-slim", "params": 1057063,
             "val_accuracy": 0.65, "val_accuracy_flip_tta": 0.655}
    selection = {"folded": True, "max_ms": 5.0, "max_mb": 10.0, "chosen": "ensemble", "candidates": {
        "ensemble": {"val_accuracy": 0.675, "val_macro_f1": 0.64, "val_disgust_recall": 0.4,
                     "latency": {"median_ms": 4.2}, "size_mb": 9.3}}}
    card = model_card({**metrics, "members": [[first, second], [third]], "networks": 2, "flip_tta": False,
                       "selection": selection})
    assert "the average of the probabilities of 2 networks;" in card
    assert "widths 32-64-128-224" in card and "1,057,063 parameters" in card
    assert "| 2 | 1 | `python tools/train_reference.py --data data/fer2013 --recipe vgg-slim` | 60 |" in card
    assert "137 epochs, 335 minutes" in card
    assert "batch norm folded" in card and "| ensemble | 67.5 % | 64.0 % | 40.0 % | 4.2 | 9.3 |" in card
    assert "batch norm folded" not in model_card({**metrics, "members": [[third]], "networks": 1, "flip_tta": True})


def test_a_resume_keeps_the_settings_it_started_with(tmp_path, monkeypatch):
    tool = _tool("train")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    first = tool.parse_args(["--data", "x", "--lr", "5e-4", "--time-budget-min", "60"])
    tool.resume_settings(run_dir, first)
    assert json.loads((run_dir / "settings.json").read_text())["augment_outside"] is False
    # no finished epoch yet: a new start may change anything (the settings are written again)
    tool.resume_settings(run_dir, tool.parse_args(["--data", "x", "--lr", "1e-3"]))
    assert json.loads((run_dir / "settings.json").read_text())["lr"] == 1e-3

    (run_dir / "backup").mkdir()
    (run_dir / "backup" / "training_metadata.json").write_text(json.dumps({"epoch": 2}))
    tool.resume_settings(run_dir, tool.parse_args(["--data", "elsewhere", "--lr", "1e-3", "--epochs", "50"]))
    tool.resume_settings(run_dir, tool.parse_args(["--data", "x", "--lr", "1e-3", "--draw-seed", "42"]))  # the same draws
    for changed, said in ((["--teacher", "t.keras"], "augment_outside: False -> True"),
                          (["--augment-outside"], "augment_outside"), (["--lr", "5e-4"], "lr: 0.001 -> 0.0005"),
                          (["--lr", "1e-3", "--draw-seed", "3"], "draw_seed: 42 -> 3")):
        with pytest.raises(SystemExit, match="started with other settings") as refused:
            tool.resume_settings(run_dir, tool.parse_args(["--data", "x", *changed]))
        assert said in str(refused.value)

    distilled = ["--data", "x", "--teacher", "a.keras", "b.keras", "--teacher-weight", "0.8", "--init-from", "s.keras"]
    (run_dir / "settings.json").unlink()
    tool.resume_settings(run_dir, tool.parse_args(distilled))  # a run begun before the check: written, not checked
    tool.resume_settings(run_dir, tool.parse_args([*distilled, "--epochs", "9"]))  # the same command, read back from JSON
    same_files = ["--data", "x", "--teacher", str(Path("a.keras").resolve()), "./b.keras", "--teacher-weight", "0.8",
                  "--init-from", str(Path("s.keras").resolve())]
    tool.resume_settings(run_dir, tool.parse_args(same_files))  # the same files, named another way: no change

    (run_dir / "settings.json").unlink()  # a new record: the model files are written resolved
    tool.resume_settings(run_dir, tool.parse_args(distilled))
    assert json.loads((run_dir / "settings.json").read_text())["init_from"] == str(Path("s.keras").resolve())
    started_in, elsewhere = Path.cwd(), tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # resumed from another folder: the same files named absolutely are no change
    tool.resume_settings(run_dir, tool.parse_args([str(started_in / a) if a.endswith(".keras") else a for a in distilled]))
    with pytest.raises(SystemExit, match="started with other settings"):  # the same names here are other files
        tool.resume_settings(run_dir, tool.parse_args(distilled))
    for changed in (["--teacher", "a.keras"], ["--teacher-weight", "0.5"], ["--init-from", "t.keras"]):
        with pytest.raises(SystemExit, match="started with other settings"):
            tool.resume_settings(run_dir, tool.parse_args([*distilled, *changed]))


def test_every_vgg_recipe_folds_for_serving_at_its_stated_size():
    import keras

    from helpers.models import build_vgg_cnn, count_params, fold_batch_norm, with_flip_tta

    recipes = _tool("common").RECIPES
    millions = {"vgg-default": 1.24, "vgg-slim": 1.06, "vgg-deep": 1.98, "vgg-lean": 1.85}  # as the log says
    assert set(recipes) == set(millions)
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (3, 48, 48, 1)).astype("uint8")
    for name, settings in recipes.items():
        net = build_vgg_cnn(augment=None, name=name.replace("-", "_"), **settings)
        assert round(count_params(net) / 1e6, 2) == millions[name], name
        for layer in net.layers:  # batch norms as after training, not the identity they start as
            if isinstance(layer, keras.layers.BatchNormalization):
                gamma, beta, mean, var = (w.shape for w in layer.get_weights())
                layer.set_weights([rng.uniform(0.5, 2, gamma), rng.normal(0, 0.5, beta),
                                   rng.normal(0, 0.5, mean), rng.uniform(0.5, 2, var)])
        served = with_flip_tta(fold_batch_norm(net))  # the form `python -m tools.reference ensemble` serves
        expected = np.asarray(with_flip_tta(net).predict(faces, verbose=0))
        np.testing.assert_allclose(np.asarray(served.predict(faces, verbose=0)), expected, atol=2e-4, err_msg=name)
