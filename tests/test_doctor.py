"""helpers.doctor: passes on this machine, fails with the right fix when data or a package is missing."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import doctor

ROOT = Path(__file__).resolve().parents[1]
QUICK_ARGS = ["--skip-speed", "--skip-camera"]


def _by_check(findings) -> dict[str, doctor.Finding]:
    return {f.check: f for f in findings}


@pytest.mark.slow
def test_passes_on_this_machine_with_a_short_probe():
    done = subprocess.run([sys.executable, "-m", "helpers.doctor", "--json", "--skip-camera", "--probe-seconds", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    findings = {f["check"]: f for f in result["findings"]}
    assert result["ready"] and {"python", "tensorflow", "keras", "opencv", "data", "cache", "disk", "speed", "mode"} <= set(findings)
    assert "images/s training" in findings["speed"]["found"]
    assert findings["mode"]["found"].split(":")[0] in {"workshop", "full"}


def test_table_lists_fixes_and_exit_status(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("FER2013_DIR", str(tmp_path / "no-such-folder"))
    assert doctor.main(QUICK_ARGS) == 1
    out = capsys.readouterr().out
    assert "FAIL" in next(line for line in out.splitlines() if line.startswith("data "))
    assert "Fixes:" in out and "unset FER2013_DIR" in out and "NOT READY" in out


def test_bogus_data_dir_fails_with_its_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("FER2013_DIR", str(tmp_path / "no-such-folder"))
    data, cached = doctor.check_data()
    assert data.status == "fail" and cached is None
    assert "no-such-folder" in data.found
    assert "FER2013_DIR" in data.fix and "download_fer2013" in data.fix


def test_offline_demo_data_is_a_warning(no_real_data, capsys):
    assert doctor.main(QUICK_ARGS) == 0
    data = _by_check(doctor.run_checks(skip_speed=True, skip_camera=True))["data"]
    assert data.status == "warn" and "OFFLINE DEMO DATA" in data.found and "download_fer2013" in data.fix


def test_counts_are_compared_with_fer2013(monkeypatch, tmp_path):
    for split in ("train", "test"):
        for name in ("happy", "sad"):
            folder = tmp_path / "fer" / split / name
            folder.mkdir(parents=True)
            Image.fromarray(np.full((48, 48), 128, np.uint8)).save(folder / "0.png")
    monkeypatch.setenv("FER2013_DIR", str(tmp_path / "fer"))
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    data, cached = doctor.check_data()
    assert data.status == "warn"
    assert "train has 2 images, FER2013 28,709 (per class, here/FER2013: happy 1/7,215, neutral 0/4,965, sad 1/4,830 and 4 more)" in data.found
    assert "test has 2 images (FER2013: 3,589 or 7,178)" in data.found
    assert cached[2] == "none" and doctor.cache_state(*cached[:2]) == "fresh"  # loading it built the cache
    assert "was not built yet, built now" in doctor.check_cache(cached[2], "fresh").found


@pytest.mark.realdata
def test_real_fer2013_matches_its_known_counts(fer_dir, monkeypatch):
    monkeypatch.setenv("FER2013_DIR", str(fer_dir))
    data, _ = doctor.check_data()
    assert data.status == "ok", data.found
    assert "train 28,709" in data.found and "every class count matches" in data.found


@pytest.mark.parametrize("dist, version, expected", [
    ("keras", None, "not installed"),
    ("keras", "2.15.0", "needs 3.x"),
    ("tensorflow", None, "not installed"),
    ("opencv-python-headless", "5.0.0", "needs 4.x"),
    ("nbconvert", None, "missing: nbconvert"),
])
def test_missing_or_wrong_package_fails_with_the_install_fix(monkeypatch, dist, version, expected):
    real = doctor.installed_version
    monkeypatch.setattr(doctor, "installed_version", lambda d: version if d == dist else real(d))
    findings = doctor.check_packages(doctor.read_pins())
    failed = [f for f in findings if f.status == "fail"]
    assert len(failed) == 1 and expected in failed[0].found
    assert "pip" in failed[0].fix


def test_opencv_without_cascade_classifier_fails(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", types.ModuleType("cv2"))  # an OpenCV build without Haar cascades
    finding = doctor.check_opencv(doctor.read_pins())
    assert finding.status == "fail" and "CascadeClassifier" in finding.found
    assert "pip install opencv-python-headless==4." in finding.fix


def test_other_minor_version_is_a_warning_and_python_is_checked():
    assert doctor.compare_version("keras", "3.9.0", "3.15.1").status == "warn"
    assert doctor.compare_version("keras", "3.15.0", "3.15.1").status == "ok"
    assert doctor.check_python((3, 9, 1)).status == "fail"
    assert doctor.check_python((3, 12, 0)).status == "warn"


def test_camera_probe_never_hangs(monkeypatch):
    monkeypatch.setattr(doctor, "CAMERA_PROBE", "import time\ntime.sleep(60)")
    started = time.monotonic()
    finding = doctor.check_camera(timeout=2)
    assert time.monotonic() - started < 20
    assert finding.status == "warn" and "did not answer" in finding.found


def test_lesson05_estimate_scales_with_speed_and_mode():
    slow = doctor.Speed(100.0, 300.0, "CPU", "")
    fast = doctor.Speed(1000.0, 3000.0, "CPU", "")
    for mode in ("workshop", "full"):
        assert doctor.lesson05_minutes(slow, mode) == pytest.approx(10 * doctor.lesson05_minutes(fast, mode))
        assert doctor.lesson05_minutes(fast, mode) > doctor.lesson05_work(mode)[0] / 1000 / 60
    assert doctor.lesson05_minutes(fast, "full") > 5 * doctor.lesson05_minutes(fast, "workshop")
    with pytest.raises(KeyError):
        doctor.lesson05_work("quick")


def _literal(node: ast.expr):
    """A literal, where ``dict(a=..., b=...)`` counts as one too, and ``len(full["train"])`` as ``"all"``."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "len" and ast.unparse(node).replace("'", '"') == 'len(full["train"])':
        return "all"
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict" and not node.args:
        return {k.arg: _literal(k.value) for k in node.keywords}
    return ast.literal_eval(node)


def _by_mode_literals(tree: ast.Module, target: str) -> dict:
    """``{mode: value}`` of the literal keywords of the ``by_mode(...)`` call in the assignment to ``target``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == target for t in node.targets):
            call = next(n for n in ast.walk(node.value) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "by_mode")
            return {k.arg: _literal(k.value) for k in call.keywords if k.arg in ("workshop", "full")}
    raise AssertionError(f"no assignment to {target} in solutions/05_training.ipynb")


def _by_mode_arguments(tree: ast.Module, name: str) -> list[dict]:
    """``[{mode: value}]`` of the literal ``by_mode`` keywords passed as argument ``name=``, everywhere."""
    return [{k.arg: _literal(k.value) for k in node.value.keywords if k.arg in ("workshop", "full")}
            for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == name
            and isinstance(node.value, ast.Call) and getattr(node.value.func, "attr", "") == "by_mode"]


def test_lesson05_work_matches_the_notebook():
    """The doctor's copy of lesson 05's budgets is the notebook's: change both together."""
    nb = json.loads((ROOT / "solutions" / "05_training.ipynb").read_text(encoding="utf-8"))
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    tree = ast.parse(source)
    recipe = {mode: {k: tuple(v) if isinstance(v, list) else v for k, v in r.items()}
              for mode, r in _by_mode_literals(tree, "RECIPE").items()}
    assert recipe == doctor.LESSON05_RECIPE, "update helpers.doctor.LESSON05_RECIPE to lesson 05's RECIPE"
    assert _by_mode_literals(tree, "SIZES") == doctor.LESSON05_SIZES
    assert _by_mode_literals(tree, "demo_train") == doctor.LESSON05_RESUME
    assert f"epochs={doctor.LESSON05_RESUME_EPOCHS}," in source
    steps = _by_mode_arguments(tree, "steps")  # overfitting one batch and the range test
    for mode in ("workshop", "full"):
        assert sorted(s[mode] for s in steps) == sorted(doctor.LESSON05_PROBE_STEPS.values())
    assert "build_workshop_cnn(augment=\"flip\", widths=RECIPE[\"widths\"], dropout=0.3)" in source


def test_speed_probe_times_lesson05_network_with_training_speed(monkeypatch):
    import helpers.tuning

    built = []

    def fake_training_speed(build, images, labels, precision, batch_size, steps, seconds):
        built.append(build())
        assert images.shape[1:] == (48, 48, 1) and len(labels) == len(images) and precision == "float32"
        return 123.0

    monkeypatch.setattr(helpers.tuning, "training_speed", fake_training_speed)
    speed = doctor.measure_speed(seconds=0.5)
    assert speed.train_images_per_s == 123.0 and speed.predict_images_per_s > 0
    assert built[0].name == "workshop_cnn"
    assert [layer.filters for layer in built[0].layers if hasattr(layer, "filters")] == list(doctor.LESSON05_RECIPE["workshop"]["widths"])


@pytest.mark.parametrize("train_rate, mode, status", [(1e5, "full", "ok"), (300.0, "workshop", "ok"), (20.0, "workshop", "warn")])
def test_mode_follows_the_estimates(monkeypatch, train_rate, mode, status):
    monkeypatch.setattr(doctor, "measure_speed", lambda seconds: doctor.Speed(train_rate, 3 * train_rate, "CPU (2 cores)", ""))
    found = _by_check(doctor.check_speed(1.0))
    assert found["mode"].found.startswith(f"{mode}:") and found["mode"].status == status
    assert "workshop mode" in found["mode"].found and "full mode" in found["mode"].found
    assert (found["speed"].status == "warn") == (status == "warn")
    if status == "warn":
        assert "Colab" in found["speed"].fix
