"""The honest protocol (issue 19): no training twins in validation, a test split read once, a quiet start."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import data
from helpers.data import FER2013Data, Split, course_splits, final_test, has_twin_in, pixel_hashes, stratified_split

ROOT = Path(__file__).resolve().parents[1]
#: What TensorFlow's C++ logging prints: "I0000 00:00:1796.. 123 file.cc:31] ...", absl's preamble, oneDNN, cuInit.
TF_LOG = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]|absl::InitializeLog|oneDNN|cuInit|cuda drivers|"
                    r"cpu_feature_guard|WARNING:tensorflow", re.M)


# --------------------------------------------------------------------------- validation without twins


def planted(n_per_class: int = 60, seed: int = 0) -> tuple[FER2013Data, np.ndarray]:
    """Random faces with planted pixel twins: groups of 2-4 identical images inside train."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(7), n_per_class)
    images = rng.integers(0, 256, (len(labels), 48, 48, 1), dtype=np.uint8)
    group = np.full(len(labels), -1)
    for g, first in enumerate(rng.choice(len(labels), 60, replace=False)):  # 60 groups of copies
        copies = rng.choice(np.flatnonzero(group == -1), rng.integers(1, 4), replace=False)
        images[copies] = images[first]
        group[copies] = group[first] = g
    test = Split("test", rng.integers(0, 256, (70, 48, 48, 1), dtype=np.uint8), np.repeat(np.arange(7), 10))
    return FER2013Data({"train": Split("train", images, labels), "test": test}, "folders", "planted"), group


def test_pixel_hashes_equal_exactly_for_equal_pixels():
    a = np.zeros((3, 48, 48, 1), np.uint8)
    a[1, 0, 0, 0] = 1
    h = pixel_hashes(a)
    assert h.shape == (3,) and h[0] == h[2] != h[1] and len(h[0]) == 40
    assert has_twin_in(a[1:], a[:1]).tolist() == [False, True]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_validation_has_no_twin_in_train_and_is_a_subset_of_the_plain_split(seed):
    d, group = planted(seed=seed)
    s = course_splits(d, val_fraction=0.2, seed=seed)
    plain_train, plain_val = stratified_split(d["train"], 0.2, seed)
    assert not has_twin_in(s["val"].images, s["train"].images).any()
    assert set(pixel_hashes(s["val"].images)) <= set(pixel_hashes(plain_val.images))  # only faces leave val
    assert len(s["train"]) + len(s["val"]) == len(d["train"])  # nothing dropped
    assert len(s["val"]) < len(plain_val)  # the planted groups did straddle the plain split
    # every group of identical images is whole on one side
    train_h, val_h = set(pixel_hashes(s["train"].images)), set(pixel_hashes(s["val"].images))
    assert not train_h & val_h
    again = course_splits(d, val_fraction=0.2, seed=seed)
    np.testing.assert_array_equal(again["val"].images, s["val"].images)  # seeded


def test_a_separate_validation_source_loses_its_train_twins_to_train():
    d, _ = planted()
    train = d["train"]
    val = Split("val", np.concatenate([train.images[:5], d["test"].images[:5]]), np.concatenate([train.labels[:5], d["test"].labels[:5]]))
    s = course_splits(FER2013Data({"train": train, "val": val, "test": d["test"]}, "folders", "x"))
    assert len(s["val"]) == 5 and not has_twin_in(s["val"].images, s["train"].images).any()
    assert len(s["train"]) == len(train) + 5


def test_real_fer2013_validation_is_twin_free_and_inside_the_reference_models_validation(fer_dir):
    d = data.load_fer2013(fer_dir, verbose=False)
    s = course_splits(d)
    plain_train, plain_val = stratified_split(d["train"], 0.1)  # the split the reference model was trained on
    assert not has_twin_in(s["val"].images, s["train"].images).any()
    assert set(pixel_hashes(s["val"].images)) <= set(pixel_hashes(plain_val.images))
    assert not has_twin_in(s["val"].images, plain_train.images).any()  # no face the reference model trained on
    assert len(s["val"]) + len(s["train"]) == len(d["train"])
    assert has_twin_in(plain_val.images, plain_train.images).sum() == len(plain_val) - len(s["val"])


def test_paired_bootstrap_sees_a_real_gain_and_not_a_random_one():
    from helpers.evaluation import choose_within_noise, paired_bootstrap

    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 2000)
    a = np.where(rng.random(2000) < 0.6, y, (y + 1) % 7)
    better = np.where(rng.random(2000) < 0.1, y, a)  # right on ~4 % more faces
    noisy = a.copy()
    swap = rng.choice(2000, 40, replace=False)  # 20 faces fixed, 20 broken: no real gain
    noisy[swap[:20]] = y[swap[:20]]
    noisy[swap[20:]] = (y[swap[20:]] + 2) % 7
    real, noise = paired_bootstrap(y, a, better), paired_bootstrap(y, a, noisy)
    assert real["low"] > 0 and real["low"] <= real["difference"] <= real["high"]
    assert noise["low"] < 0 < noise["high"]
    chosen, table = choose_within_noise(y, {"cheap": a, "noisy": noisy, "costly": better}, {"cheap": 1, "noisy": 2, "costly": 6})
    assert chosen == "costly" and table.loc["noisy", "adopted"] == False and table.loc["costly", "compared with"] == "cheap"
    with pytest.raises(ValueError, match="length"):
        paired_bootstrap(y, a, better[:-1])


# --------------------------------------------------------------------------- the test split, locked


def test_locked_test_split_raises_until_final_test(monkeypatch, no_real_data):
    monkeypatch.setenv("FER_LOCK_TEST", "1")
    splits = data.load_course_data(quick=True, verbose=False)
    test = splits["test"]
    assert len(test) == len(final_test(splits)) > 0 and test.name == "test"
    with pytest.raises(RuntimeError, match="final_test"):
        test.labels
    with pytest.raises(RuntimeError, match="locked"):
        test.images
    opened = final_test(splits)
    assert isinstance(opened, Split) and opened.images.shape == (len(test), 48, 48, 1)
    monkeypatch.delenv("FER_LOCK_TEST")
    plain = data.load_course_data(quick=True, verbose=False)
    assert final_test(plain) is plain["test"]
    np.testing.assert_array_equal(plain["test"].images, opened.images)


@pytest.mark.parametrize("notebook", ["06_evaluation", "07_webcam", "08_dataset_limits"])
def test_lessons_06_to_08_name_the_test_split_only_in_the_final_cell(notebook):
    """Static half: only lesson 06's marked final cell opens the test split or names it."""
    import nbformat

    cells = [c.source for c in nbformat.read(ROOT / "solutions" / f"{notebook}.ipynb", as_version=4).cells
             if c.cell_type == "code"]
    final = [s for s in cells if "final_test(" in s]
    assert len(final) == (1 if notebook == "06_evaluation" else 0)
    if final:
        rest = cells[cells.index(final[0]) + 1:]  # after it: only the self-check and the Summary's print cell
        assert "FINAL TEST" in final[0] and len(rest) <= 3, "the final test cell is marked, and the lesson's last but the self-check and Summary"
        assert not any("predict" in r or "load_course_data" in r or "final_test" in r for r in rest), rest
    for source in cells:
        if source not in final:
            assert not re.search(r"""\[["']test["']\]|\btest\.(images|labels)|public_test|private_test""", source), source


@pytest.mark.parametrize("notebook", ["06_evaluation", "07_webcam", "08_dataset_limits"])
def test_nbval_runs_lessons_06_to_08_with_the_test_split_locked(notebook, monkeypatch):
    """Dynamic half: nbval executes these notebooks (solutions and lessons) with FER_LOCK_TEST=1 set
    by conftest's plugin before their kernel starts, so any read of the test split before final_test fails
    the notebook; the other notebooks run unlocked."""
    import conftest

    class Item:  # what conftest's hook reads of an nbval cell item
        def __init__(self, path):
            self.fspath = path

    monkeypatch.delenv("FER_LOCK_TEST", raising=False)
    for folder in ("solutions", "lessons"):
        conftest.LockTestSplit().pytest_runtest_setup(Item(ROOT / folder / f"{notebook}.ipynb"))
        assert os.environ.get("FER_LOCK_TEST") == "1"
        conftest.LockTestSplit().pytest_runtest_setup(Item(ROOT / folder / "05_training.ipynb"))
        assert "FER_LOCK_TEST" not in os.environ
        conftest.LockTestSplit().pytest_runtest_setup(Item(ROOT / folder / f"{notebook}.ipynb"))
        conftest.LockTestSplit().pytest_runtest_setup(Item(ROOT / "tests" / "test_data.py"))  # the next file in this worker
        assert "FER_LOCK_TEST" not in os.environ
    assert notebook in conftest.LOCKED_NOTEBOOKS


# --------------------------------------------------------------------------- a quiet start


def test_lesson_00_prints_no_tensorflow_log_lines():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "solutions" / "00_welcome.ipynb", as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the course's own default
    env.update(FER_QUICK="1", PYTHONPATH=str(ROOT))
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    client.km = client.create_kernel_manager()
    client.execute(env=env)
    printed = "\n".join(
        out.get("text", "") if out.get("output_type") == "stream" else str(out.get("data", {}).get("text/plain", ""))
        for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "TensorFlow" in printed or "tensorflow" in printed  # the environment check did run
    assert not TF_LOG.search(printed), TF_LOG.search(printed)


def test_webcam_command_prints_no_tensorflow_log_lines(tmp_path):
    import cv2

    from helpers import inference

    photo = tmp_path / "grace_hopper.jpg"
    cv2.imwrite(str(photo), inference.sample_photos()["grace_hopper"])
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run([sys.executable, "-m", "helpers.webcam", "--source", str(photo), "--output",
                          str(tmp_path / "out.png"), "--no-window"], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "grace_hopper:" in run.stdout
    assert not TF_LOG.search(run.stderr + run.stdout), (run.stderr + run.stdout)[:2000]


def test_the_quiet_start_keeps_other_stderr_and_warnings(tmp_path):
    code = ("import helpers, sys, os, warnings\n"
            "import tensorflow\n"
            "warnings.warn('a course warning')\n"
            "print('after', file=sys.stderr)\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "a course warning" in run.stderr and "after" in run.stderr
    assert not TF_LOG.search(run.stderr), run.stderr


# --------------------------------------------------------------------------- test numbers, twice


def test_card_and_readme_report_test_numbers_with_and_without_twins():
    import json

    metrics = json.loads((ROOT / "data" / "fer_reference_metrics.json").read_text())
    card, readme = (ROOT / "data" / "MODEL_CARD.md").read_text(), (ROOT / "README.md").read_text()
    twin_free = metrics["test_without_twins"]
    assert twin_free["n"] + twin_free["twins_in_train"] == metrics["test"]["n"]
    for text in (card, readme):
        for scores in (metrics["test"], twin_free):
            assert f"{100 * scores['accuracy']:.1f} %" in text and f"{100 * scores['macro_f1']:.1f} %" in text
        assert "twins included" in text

