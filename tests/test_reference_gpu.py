"""``python -m tools.reference gpu`` (the recipe's GPU mode) and ``tools/reference/gpu_run.sh``, on the CPU.

CI has no GPU: the same code path runs on a few hundred synthetic faces with a network a quarter
as wide, so that a whole run (train, checkpoint, export, test, card) takes seconds. Its step
under ``tf.distribute.MirroredStrategy`` is tested in tests/test_distributed.py.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_reference_recipe import _tool  # tools.reference.<name>, the repository root on the path while importing

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["--width-scale", "0.25", "--batch-size", "64", "--reserve-min", "0.05", "--latency-repeats", "2"]


def _env() -> dict:
    from test_reference_recipe import _env as recipe_env

    return {**recipe_env(), "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def tiny_pack(tmp_path_factory) -> Path:
    """A FER2013 pack (``gpu --pack``) of 440 offline faces as an original-format CSV: 300 Training, 70 + 70 test."""
    from helpers.data import load_fer2013
    from helpers.offline import make_faces

    images, labels = make_faces(440, seed=5)
    usage = ["Training"] * 300 + ["PublicTest"] * 70 + ["PrivateTest"] * 70
    folder = tmp_path_factory.mktemp("gpu")
    csv = folder / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n" + "".join(
        f"{y},{' '.join(map(str, img.reshape(-1)))},{u}\n" for img, y, u in zip(images, labels, usage)))
    device = _tool("device")
    pack = device.pack_fer2013(load_fer2013(csv, cache=False), folder / "fer2013.npz.xz")
    back = device.read_pack(pack)
    assert back.source == "csv" and list(back.splits) == ["train", "public_test", "private_test"]
    assert np.array_equal(back["train"].images, images[:300]) and np.array_equal(back["private_test"].labels, labels[370:])
    return pack


def test_precision_is_chosen_from_the_device():
    precision_for = _tool("device").precision_for
    assert precision_for((9, 0))[0] == "mixed_bfloat16"  # H100
    assert precision_for((8, 0))[0] == "mixed_bfloat16"  # A100
    assert precision_for((7, 5))[0] == "mixed_float16"  # T4 (Colab): float16 with loss scaling
    assert precision_for((6, 0))[0] == "float32"  # P100
    assert precision_for(None, {"avx2", "amx_bf16"})[0] == "mixed_bfloat16"
    assert precision_for(None, {"avx2", "avx512f"})[0] == "float32"


def test_plan_fits_the_budget():
    gpu = _tool("gpu")
    assert gpu.planned_epochs(None, 0, 0, 3, 10.0, 300) == 300
    assert gpu.planned_epochs(480, 100, 90, 10, 2.0, 300) == 10 + 145  # (480 - 100 - 90) // 2 more
    assert gpu.planned_epochs(480, 470, 90, 10, 2.0, 300) == 10, "over the budget: stop now"
    assert gpu.scaled_lr(1e-3, 256, "sqrt") == pytest.approx(2e-3) and gpu.scaled_lr(1e-3, 256, "linear") == pytest.approx(4e-3)
    assert gpu.warmup_for(5, 300) == 5 and gpu.warmup_for(5, 20) == 2 and gpu.warmup_for(5, 3) == 1


def test_device_augmentation_is_the_course_transforms():
    import keras

    DeviceAugment = _tool("device").DeviceAugment
    faces = np.random.default_rng(0).integers(0, 256, (16, 48, 48, 1)).astype("float32")
    still = DeviceAugment(flip=True, rotation=0, zoom=0, translation=0, contrast=0, brightness=0, seed=1)
    assert np.array_equal(keras.ops.convert_to_numpy(still(faces)), faces), "inactive outside training"
    flipped = keras.ops.convert_to_numpy(still(faces, training=True))
    mirrored = [np.allclose(f, x[:, ::-1], atol=1e-3) for f, x in zip(flipped, faces)]
    unchanged = [np.allclose(f, x, atol=1e-3) for f, x in zip(flipped, faces)]
    assert all(m or u for m, u in zip(mirrored, unchanged)) and 3 <= sum(mirrored) <= 13, "each face as is or mirrored"
    bright = DeviceAugment(flip=False, rotation=0, zoom=0, translation=0, contrast=0, brightness=0.2, seed=2)
    lifted = keras.ops.convert_to_numpy(bright(np.full((16, 48, 48, 1), 128.0, "float32"), training=True)) - 128
    assert np.allclose(lifted, lifted[:, :1, :1]) and np.abs(lifted).max() <= 0.2 * 255 + 1e-3, "one shift per face"
    from helpers.offline import make_faces

    smooth = make_faces(16, seed=3)[0].astype("float32")
    out = keras.ops.convert_to_numpy(DeviceAugment(seed=1)(smooth, training=True))
    assert out.shape == smooth.shape and out.min() >= 0 and out.max() <= 255
    moved = np.abs(out - smooth).mean(axis=(1, 2, 3))
    assert (moved > 1).all() and np.median(moved) < 45, f"each face changed, none destroyed: {moved.round(1)}"


def _run(pack: Path, out: Path, *extra: str, wait: bool = True):
    cmd = [sys.executable, "-m", "tools.reference", "gpu", "--data", str(pack), "--out", str(out), *SMOKE, *extra]
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)


def _kill_at_checkpoint(run: subprocess.Popen, state: Path, epoch: int) -> None:
    """SIGKILL ``run`` as soon as its checkpoint holds ``epoch`` finished epochs."""
    deadline = time.time() + 240
    while time.time() < deadline and run.poll() is None:
        if state.exists() and json.loads(state.read_text())["epoch"] >= epoch:
            run.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL, f"the run should have been killed at its checkpoint of epoch {epoch}"


def test_killed_run_resumes_to_the_uninterrupted_runs_weights(tiny_pack, tmp_path):
    fixed = ["--epochs", "3", "--checkpoint-min", "0", "--no-compare"]
    _kill_at_checkpoint(_run(tiny_pack, tmp_path / "killed", *fixed, wait=False),
                        tmp_path / "killed" / "checkpoint" / "state.json", 1)
    resumed = _run(tiny_pack, tmp_path / "killed", *fixed)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resumed at epoch 1 of 3" in resumed.stdout and (tmp_path / "killed" / "fer_reference.keras").is_file()
    # the same run without a kill, up to its last checkpoint (its end phase is what the next test checks)
    _kill_at_checkpoint(_run(tiny_pack, tmp_path / "whole", *fixed, wait=False),
                        tmp_path / "whole" / "checkpoint" / "state.json", 3)

    def logged(run: str) -> list[str]:
        return [",".join(line.split(",")[:5]) for line in (tmp_path / run / "log.csv").read_text().splitlines()]

    assert len(logged("killed")) == 4 and logged("killed") == logged("whole"), "each epoch once, the same numbers"
    with np.load(tmp_path / "killed" / "checkpoint" / "variables.npz") as a, \
            np.load(tmp_path / "whole" / "checkpoint" / "variables.npz") as b:
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files), \
            "weights, optimizer and random-generator states as without the kill"
    again = _run(tiny_pack, tmp_path / "killed", *fixed)
    assert again.returncode != 0 and "finished run" in again.stderr, "a finished run is not silently retrained"


def test_gpu_run_refuses_without_a_gpu(tiny_pack, tmp_path):
    run = subprocess.run(["bash", str(ROOT / "tools/reference/gpu_run.sh"), "--data", str(tiny_pack)],
                         env={**_env(), "OUT": str(tmp_path / "out"), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 2 and "refused" in run.stdout and "--allow-cpu" in run.stdout


def test_gpu_run_on_the_cpu_stops_at_its_budget_and_keeps_the_contract(tiny_pack, tmp_path):
    out, budget = tmp_path / "out", 0.2
    started = time.time()
    run = subprocess.run(["bash", str(ROOT / "tools/reference/gpu_run.sh"), "--allow-cpu", "--data", str(tiny_pack),
                          "--budget-min", str(budget), "--reserve-min", "0.05", "--", "--width-scale", "0.25",
                          "--batch-size", "64", "--latency-repeats", "2", "--epochs", "500"],
                         env={**_env(), "OUT": str(out), "RUN_DIR": str(tmp_path / "run"), "PYTHON": sys.executable},
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    wall = time.time() - started
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-3000:]
    assert {"fer_reference.keras", "fer_reference_plain.keras", "fer_reference_metrics.json", "MODEL_CARD.md",
            "result.json", "log.csv", "gpu_run.log"} <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "fer_reference_metrics.json").read_text())
    g = metrics["gpu_run"]
    assert g["stopped_by"] == "budget" and g["planned"] == len(g["epoch_seconds"]) < 500
    # no epoch is begun that the plan does not expect to end before the budget less the reserve
    # (the first one, which also compiles, always runs)
    if g["planned"] > 1:
        assert g["training_end_s"] <= (budget - 0.05) * 60 + max(g["epoch_seconds"]), g
    assert wall < budget * 60 + 45, f"the whole script took {wall:.0f} s for a {budget * 60:.0f} s budget"
    assert "ETA" in (out / "gpu_run.log").read_text()
    assert metrics["test"]["n"] == 70 and metrics["val"]["n"] == 70 and metrics["flip_tta"]
    shipped = metrics["against_shipped"]
    assert shipped is None or (shipped["accuracy"]["low"] <= shipped["accuracy"]["difference"] <= shipped["accuracy"]["high"])
    card = (out / "MODEL_CARD.md").read_text()
    assert "GPU mode" in card and f"{100 * metrics['test']['accuracy']:.1f} %" in card

    from helpers import CLASS_NAMES
    from helpers.training import load_model

    model = load_model(out / "fer_reference.keras")
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1)).astype("uint8")  # raw pixels 0-255
    probs = np.asarray(model.predict(faces, verbose=0))
    assert probs.shape == (5, len(CLASS_NAMES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    from helpers.keras_files import portable_config

    config = json.loads(__import__("zipfile").ZipFile(out / "fer_reference.keras").read("config.json"))
    assert portable_config(config)[1] == 0, "nothing in the file that Keras 3.8 refuses"
