"""The reference recipe as a command: it trains, resumes after a kill, exports the course's contract.

``tools/train_reference.py`` and ``tools/evaluate_reference.py`` run in subprocesses on a small
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
TOOLS = ROOT / "tools"


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory) -> Path:
    from helpers.offline import make_faces

    images, labels = make_faces(1140, seed=5)
    usage = ["Training"] * 1000 + ["PublicTest"] * 70 + ["PrivateTest"] * 70
    path = tmp_path_factory.mktemp("recipe") / "fer2013.csv"
    rows = ["emotion,pixels,Usage"] + [
        f"{y},{' '.join(map(str, img.reshape(-1)))},{u}" for img, y, u in zip(images, labels, usage)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def _env() -> dict:
    return {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


def _train_cmd(csv: Path, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(TOOLS / "train_reference.py"), "--data", str(csv), "--run-dir", str(run_dir),
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

    second = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert _logged_epochs(run_dir) == [0, 1, 2], "each epoch once, none repeated after the restart"
    result = json.loads((run_dir / "result.json").read_text())
    assert result["epochs_run"] == 3
    assert result["command"].startswith("python tools/train_reference.py --data ")
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

    evaluated = subprocess.run(
        [sys.executable, str(TOOLS / "evaluate_reference.py"), str(export), "--data", str(tiny_csv),
         "--run-dir", str(run_dir)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "test: accuracy" in evaluated.stdout and "val: accuracy" in evaluated.stdout


def test_model_card_lists_every_sitting():
    sys.path.insert(0, str(TOOLS))
    try:
        from evaluate_reference import model_card
    finally:
        sys.path.remove(str(TOOLS))
    metrics = json.loads((ROOT / "data" / "fer_reference_metrics.json").read_text())
    first = {"command": "python tools/train_reference.py --data data/fer2013 --lr 1e-3", "epochs_run": 27,
             "minutes_this_sitting": 96.75, "augment": "default", "val_accuracy": 0.62, "val_accuracy_flip_tta": 0.625}
    second = {"command": "python tools/train_reference.py --data data/fer2013 --init-from best.keras --augment weak",
              "epochs_run": 50, "minutes_this_sitting": 120.0, "augment": "weak", "val_accuracy": 0.66,
              "val_accuracy_flip_tta": 0.665}
    card = model_card({**metrics, "training": [first, second]})
    assert first["command"] in card and second["command"] in card
    assert "77 epochs, 217 minutes" in card
    assert "*default*" in card and "*weak*" in card
