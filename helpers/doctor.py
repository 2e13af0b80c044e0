"""Is this machine ready for the workshop? ``python -m helpers.doctor``

Checks, in order: Python; TensorFlow, Keras and OpenCV against the pins in ``requirements.txt``
(and that ``cv2`` has ``CascadeClassifier``, which OpenCV 5 dropped); the other pinned packages;
the data (found where the notebooks look, counted per split and class against FER2013's known
counts); the decoded-data cache; a camera (probed in a subprocess with a time limit, so it never
hangs); free disk; and a ~20-second speed probe that trains lesson 05's network (the workshop CNN)
on random pixels and says which mode fits this machine, with estimates for lesson 05 in workshop and full mode.

Prints a table and a numbered list of fixes, each saying what to run. Exit status 1 when
something needed is missing (a package, a wrong major version, OpenCV without
``CascadeClassifier``, a ``FER2013_DIR`` that does not exist, almost no disk), else 0, also with
warnings (the offline demo data, no camera, a slow machine are warnings).

Options: ``--skip-speed``, ``--skip-camera``, ``--probe-seconds N``, ``--json``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .course import CLASS_NAMES, in_colab

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = PROJECT_ROOT / "requirements.txt"
TESTED_PYTHON = (3, 11)
MIN_PYTHON = (3, 10)
INSTALL_FIX = "run `make setup` (or `pip install -r requirements.txt`) in the course folder"
GET_DATA_FIX = ('run `python -c "import helpers; helpers.download_fer2013()"` '
                "(needs a Kaggle token; the README's 'Get FER2013' lists other ways)")
OPENCV_DISTS = ("opencv-python-headless", "opencv-python", "opencv-contrib-python", "opencv-contrib-python-headless")

#: FER2013's images per class in CLASS_NAMES order (angry, disgust, fear, happy, sad, surprise,
#: neutral): the Training split, PublicTest, PrivateTest (Goodfellow et al. 2013; the Kaggle
#: folders' train/ is Training, their test/ is PublicTest + PrivateTest merged).
FER2013_COUNTS = {
    "train": (3995, 436, 4097, 7215, 4830, 3171, 4965),
    "public_test": (467, 56, 496, 895, 653, 415, 607),
    "private_test": (491, 55, 528, 879, 594, 416, 626),
}
MERGED_TEST = tuple(a + b for a, b in zip(FER2013_COUNTS["public_test"], FER2013_COUNTS["private_test"]))

#: What lesson 05 trains, per mode: copies of solutions/05_training.ipynb's literals (tests/test_doctor.py
#: reads the notebook and fails when they differ). RECIPE: the network's widths and the main run on the
#: whole course training split; SIZES: the class-weight comparison (two runs on a stratified subset);
#: the resume demo (a subset, 4 epochs); overfitting one batch and the learning-rate range test
#: (100 mini-batches each in both modes).
LESSON05_RECIPE = {
    "workshop": dict(widths=(24, 48, 96), epochs=3, batch_size=64),
    "full": dict(widths=(32, 64, 128), epochs=30, batch_size=64),
}
#: ``"all"``: the whole course training split (the notebook's ``len(full["train"])``).
LESSON05_SIZES = {"workshop": dict(train=8000, epochs=1), "full": dict(train="all", epochs=1)}
LESSON05_RESUME = {"workshop": 2500, "full": 6000}
LESSON05_RESUME_EPOCHS = 4
LESSON05_PROBE_STEPS = {"overfit one batch": 100, "range test": 100}
#: Passes over validation besides one per epoch: the untrained network, the memorised batch's network,
#: one per class-weight run, the saved model and its reloaded copy, the final metrics.
LESSON05_EXTRA_VAL_PASSES = 7
#: The course split of FER2013 (``helpers.load_course_data()`` on the Kaggle folders: Training minus a
#: twin-free validation part, and that part), counted on 2026-11-30.
COURSE_TRAIN, COURSE_VAL = 26051, 2658
#: Full mode fits a machine on which lesson 05's training takes at most this long; otherwise workshop mode.
FULL_MODE_MAX_MINUTES = 30.0
#: Workshop mode is called slow here beyond this: twice the ~10 minutes of training lesson 05 is meant
#: to take in workshop mode (instructors/README.md has every lesson's measured times on 2 CPU cores).
WORKSHOP_SLOW_MINUTES = 20.0


@dataclass
class Finding:
    """One row of the report: ``status`` is ``ok``, ``warn`` or ``fail``; ``fix`` says what to run."""

    check: str
    status: str
    found: str
    fix: str = ""


# --------------------------------------------------------------------------- versions


def installed_version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or None when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def read_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """``{distribution name (lower case): exact version}`` from ``name==version`` lines."""
    pins = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
            if match:
                pins[match.group(1).lower()] = match.group(2)
    return pins


def _major(version: str) -> str:
    return version.split(".")[0]


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def compare_version(label: str, installed: str | None, pinned: str | None, fix: str = INSTALL_FIX) -> Finding:
    """ok for the pinned version, warn for another minor version, fail when missing or another major."""
    if installed is None:
        return Finding(label, "fail", "not installed" + (f" (pinned {pinned})" if pinned else ""), fix)
    if pinned is None:
        return Finding(label, "ok", f"{installed} (no pin found)")
    if _major(installed) != _major(pinned):
        return Finding(label, "fail", f"{installed}, but the course needs {_major(pinned)}.x (pinned {pinned})", fix)
    if installed != pinned:
        return Finding(label, "warn" if _minor(installed) != _minor(pinned) else "ok",
                       f"{installed} (tested with {pinned})",
                       "" if _minor(installed) == _minor(pinned) else f"usually fine; if a lesson breaks, {fix}")
    return Finding(label, "ok", installed)


def check_python(version: tuple[int, int, int] = tuple(sys.version_info[:3])) -> Finding:
    text = ".".join(map(str, version))
    if tuple(version[:2]) < MIN_PYTHON:
        return Finding("python", "fail", f"{text} (the course needs {'.'.join(map(str, MIN_PYTHON))} or newer)",
                       "install Python 3.11 (python.org, conda or your package manager), then `make setup`")
    if tuple(version[:2]) != TESTED_PYTHON:
        return Finding("python", "warn", f"{text} (tested with {'.'.join(map(str, TESTED_PYTHON))})",
                       "usually fine; if installing the pins fails, use Python 3.11")
    return Finding("python", "ok", text)


def check_packages(pins: dict[str, str]) -> list[Finding]:
    """TensorFlow, Keras, OpenCV (version and CascadeClassifier) and every other pinned package."""
    if not pins:
        return [Finding("pins", "warn", f"{REQUIREMENTS} not found: versions not compared",
                        "run the doctor from the course folder")]
    findings = [
        compare_version("tensorflow", installed_version("tensorflow"), pins.get("tensorflow")),
        compare_version("keras", installed_version("keras"), pins.get("keras")),
        check_opencv(pins),
    ]
    named = {"tensorflow", "keras", *OPENCV_DISTS}
    missing = [d for d in pins if d not in named and installed_version(d) is None]
    differ = [f"{d} {installed_version(d)}" for d in pins if d not in named and d not in missing
              and _minor(installed_version(d) or "") != _minor(pins[d])]
    if missing:
        findings.append(Finding("other packages", "fail", "missing: " + ", ".join(missing), INSTALL_FIX))
    elif differ:
        findings.append(Finding("other packages", "warn", "other versions than pinned: " + ", ".join(differ),
                                f"usually fine; if a lesson breaks, {INSTALL_FIX}"))
    else:
        findings.append(Finding("other packages", "ok", f"{len(pins) - 3} pinned packages present"))
    return findings


def check_opencv(pins: dict[str, str]) -> Finding:
    """The installed OpenCV build against its pin, and ``cv2.CascadeClassifier`` with its Haar files."""
    pin_name = next((d for d in OPENCV_DISTS if d in pins), "opencv-python-headless")
    installed = {d: v for d in OPENCV_DISTS if (v := installed_version(d))}
    swap = (f"`pip uninstall -y {' '.join(OPENCV_DISTS)} && pip install {pin_name}=={pins.get(pin_name, '4.*')}`")
    if not installed:
        return Finding("opencv", "fail", "not installed", INSTALL_FIX)
    dist, version = next(iter(installed.items()))
    finding = compare_version("opencv", version, pins.get(pin_name), swap)
    if finding.status == "fail":
        return finding
    try:
        import cv2
    except Exception as exc:  # e.g. the GUI build without libGL
        return Finding("opencv", "fail", f"{dist} {version} does not import: {exc}", swap)
    cascade = Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / "haarcascade_frontalface_default.xml"
    if not hasattr(cv2, "CascadeClassifier") or not cascade.is_file():
        return Finding("opencv", "fail",
                       f"{dist} {version} has no CascadeClassifier / Haar cascades (lesson 07 needs them)", swap)
    if len(installed) > 1:
        return Finding("opencv", "warn",
                       f"several builds installed ({', '.join(installed)}): they overwrite each other's cv2", swap)
    finding.found = f"{finding.found} ({dist}, CascadeClassifier ok)"
    return finding


# --------------------------------------------------------------------------- data and cache


def _count_problems(split: str, counts, known, shown: int = 3) -> list[str]:
    """``[]`` when ``counts`` equal ``known``; else one line naming the classes that differ most."""
    differ = sorted((abs(int(c) - k), name, int(c), k) for name, c, k in zip(CLASS_NAMES, counts, known) if c != k)[::-1]
    if not differ:
        return []
    listed = ", ".join(f"{name} {c:,}/{k:,}" for _, name, c, k in differ[:shown])
    more = f" and {len(differ) - shown} more" if len(differ) > shown else ""
    return [f"{split} has {int(sum(counts)):,} images, FER2013 {sum(known):,} (per class, here/FER2013: {listed}{more})"]


def check_data() -> tuple[Finding, tuple[str, Path, str] | None]:
    """Where the notebooks will find the data, and its counts per split and class.

    Returns the finding and, when real data was found, ``(reader name, path, cache state before
    loading)`` for the cache check (loading builds the cache).
    """
    from .data import locate_fer2013

    try:
        kind, location = locate_fer2013()
    except FileNotFoundError:  # only an explicit FER2013_DIR can be missing
        given = os.environ.get("FER2013_DIR", "")
        return Finding("data", "fail", f"FER2013_DIR={given!r} does not exist",
                       f"point FER2013_DIR at the folder holding train/ and test/ (or at fer2013.csv), "
                       f"or unset it (`unset FER2013_DIR`); to get the data, {GET_DATA_FIX}"), None
    if kind == "offline":
        return Finding("data", "warn", "FER2013 not found: the notebooks will use the OFFLINE DEMO DATA (cartoon faces)",
                       f"to use the real data, {GET_DATA_FIX}; or set FER2013_DIR to where you have it"), None
    path = Path(location)
    if kind == "csv" and path.is_dir():
        path = path / "fer2013.csv"
    reader = "read_csv" if kind == "csv" else "read_folders"
    before = cache_state(reader, path)
    return _count_data(kind, path), (reader, path, before)


def _count_data(kind: str, path: Path) -> Finding:
    from .data import load_fer2013

    try:
        data = load_fer2013(path, verbose=False)
    except Exception as exc:
        return Finding("data", "fail", f"{path} could not be read: {exc}".splitlines()[0],
                       f"fix or replace the files at {path}; to download FER2013 again, {GET_DATA_FIX}")
    counts = {name: split.counts() for name, split in data.splits.items()}
    sizes = ", ".join(f"{name} {len(split):,}" for name, split in data.splits.items())
    problems = _count_problems("train", counts.get("train", [0] * 7), FER2013_COUNTS["train"])
    if kind == "csv":
        for split in ("public_test", "private_test"):
            problems += _count_problems(split, counts.get(split, [0] * 7), FER2013_COUNTS[split])
        test_kind = ""
    else:
        test = counts.get("test", [0] * 7)
        known = {3589: ("PublicTest", FER2013_COUNTS["public_test"]),
                 7178: ("Kaggle test: PublicTest + PrivateTest", MERGED_TEST)}
        test_kind, reference = known.get(int(sum(test)), ("not a FER2013 test split", None))
        if reference:
            problems += _count_problems("test", test, reference)
        else:
            problems.append(f"test has {int(sum(test)):,} images (FER2013: 3,589 or 7,178)")
        test_kind = f"; test = {test_kind}"
    if data.skipped:
        problems.append(f"{len(data.skipped)} unreadable file(s), e.g. {data.skipped[0][0]}")
    found = f"{kind} at {path}: {sizes}{test_kind}"
    if problems:
        return Finding("data", "warn", f"{found}; differs from FER2013: " + "; ".join(problems),
                       f"files are missing, extra or unreadable; to download FER2013 again, {GET_DATA_FIX}")
    return Finding("data", "ok", f"{found}; every class count matches FER2013")


def cache_state(reader: str, path: Path) -> str:
    """``fresh`` (a decoded copy of the data as it is now), ``stale`` (of an older state) or ``none``."""
    from .data import cache_file

    file = cache_file(reader, path)
    if file.is_file():
        return "fresh"
    prefix = file.name.rsplit("-", 1)[0]
    return "stale" if any(file.parent.glob(f"{prefix}-*.npz")) else "none"


def check_cache(state_before: str | None, state_after: str | None) -> Finding:
    """Where the cache is, its size, and whether the data's decoded copy was fresh."""
    from .data import cache_dir

    folder = cache_dir()
    files = list(folder.glob("*.npz")) if folder.is_dir() else []
    size = sum(f.stat().st_size for f in files) / 1e6
    where = f"{folder} ({len(files)} file(s), {size:.0f} MB)"
    probe = folder if folder.is_dir() else next((p for p in folder.parents if p.is_dir()), Path("/"))
    if not os.access(probe, os.W_OK):
        return Finding("cache", "warn", f"{where}: not writable, every load decodes the images again (slow)",
                       "set FER_CACHE_DIR to a writable folder, e.g. `export FER_CACHE_DIR=$HOME/fer-cache`")
    if state_before is None:
        return Finding("cache", "ok", f"{where}; nothing to cache for the offline data check")
    if state_before == "fresh":
        return Finding("cache", "ok", f"{where}; fresh")
    did, done = {"stale": ("was stale (the files changed)", "rebuilt now"),
                 "none": ("was not built yet", "built now")}[state_before]
    now = done if state_after == "fresh" else "could not be written"
    return Finding("cache", "ok" if state_after == "fresh" else "warn", f"{where}; {did}, {now}")


# --------------------------------------------------------------------------- camera, disk


CAMERA_PROBE = (
    "import cv2\n"
    "cap = cv2.VideoCapture(0)\n"
    "ok, frame = cap.read() if cap.isOpened() else (False, None)\n"
    "print('frame', frame.shape[1], frame.shape[0]) if ok else print('opened' if cap.isOpened() else 'none')\n"
    "cap.release()\n"
)


def check_camera(timeout: float = 10.0) -> Finding:
    """Open camera 0 in a subprocess (killed after ``timeout`` s: a stuck driver never hangs the doctor)."""
    fallback = "lesson 07 then runs on photos and video files; nothing to fix unless you want the live demo"
    if in_colab():
        return Finding("camera", "ok", "Colab: no local camera; lesson 07 uses the browser's camera")
    try:
        done = subprocess.run([sys.executable, "-c", CAMERA_PROBE], capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, OPENCV_LOG_LEVEL="ERROR", OPENCV_VIDEOIO_DEBUG="0"))
    except subprocess.TimeoutExpired:
        return Finding("camera", "warn", f"camera 0 did not answer within {timeout:g} s", fallback)
    words = done.stdout.split()
    if words[:1] == ["frame"]:
        return Finding("camera", "ok", f"camera 0 gives {words[1]}x{words[2]} frames")
    if words[:1] == ["opened"]:
        return Finding("camera", "warn", "camera 0 opens but gives no frame (in use by another program?)",
                       "close other programs using the camera (video calls), or " + fallback)
    return Finding("camera", "warn", "no camera found", fallback)


def check_disk(min_ok_gb: float = 2.0, min_needed_gb: float = 0.5) -> Finding:
    """Free space where the course writes (the course folder and the cache)."""
    from .data import cache_dir

    places = {PROJECT_ROOT, next((p for p in [cache_dir(), *cache_dir().parents] if p.exists()), PROJECT_ROOT)}
    free = {p: shutil.disk_usage(p).free / 1e9 for p in places}
    place, gb = min(free.items(), key=lambda item: item[1])
    found = f"{gb:.1f} GB free at {place}"
    fix = "free some disk space (the data, its cache, models and logs take about 1-2 GB), or set FER_CACHE_DIR elsewhere"
    if gb < min_needed_gb:
        return Finding("disk", "fail", found, fix)
    if gb < min_ok_gb:
        return Finding("disk", "warn", found, fix)
    return Finding("disk", "ok", found)


# --------------------------------------------------------------------------- speed


@dataclass
class Speed:
    """Measured on random pixels with lesson 05's network (:func:`lesson05_model`), float32."""

    train_images_per_s: float
    predict_images_per_s: float
    device: str
    bf16_note: str


def _bf16_note(gpus: list) -> str:
    if gpus:
        import tensorflow as tf

        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        return ("this GPU has bf16 units (compute capability >= 8.0): --precision mixed_bfloat16 may be faster"
                if tuple(capability) >= (8, 0) else "this GPU has no bf16 units: keep float32")
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    if "amx_bf16" in flags:
        return "this CPU has AMX: --precision mixed_bfloat16 may be faster (measure it)"
    return "no AMX on this CPU: bf16 would be slower, keep float32"


def lesson05_model():
    """Lesson 05's network (its ``build_model``): the workshop CNN with the recipe's widths and a flip in front."""
    from .models import build_workshop_cnn

    return build_workshop_cnn(augment="flip", widths=LESSON05_RECIPE["workshop"]["widths"], dropout=0.3)


def prediction_speed(model, images, seconds: float = 1.5) -> float:
    """Images per second that ``model.predict_on_batch(images)`` handles, over about ``seconds`` after a warm-up."""
    model.predict_on_batch(images)  # builds the graph
    started, predicted = time.perf_counter(), 0
    while time.perf_counter() - started < seconds or predicted == 0:
        model.predict_on_batch(images)
        predicted += len(images)
    return predicted / (time.perf_counter() - started)


def measure_speed(seconds: float = 15.0, batch_size: int = 64) -> Speed:
    """Train lesson 05's network on random pixels for about ``seconds``, then time prediction.

    Training: :func:`helpers.tuning.training_speed` (float32, batches of ``batch_size``, at least
    3 steps after 2 warm-up steps); prediction: batches of 256 for a tenth of ``seconds`` (at least 1 s).
    """
    import keras
    import numpy as np

    from .tuning import training_speed

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (256, 48, 48, 1)).astype("float32")
    labels = rng.integers(0, 7, len(images))
    train_rate = training_speed(lesson05_model, images, labels, "float32", batch_size, steps=3, seconds=seconds)
    predict_rate = prediction_speed(lesson05_model(), images, max(1.0, seconds / 10))
    gpus = []
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU ({len(gpus)})" if gpus else f"CPU ({os.cpu_count()} cores)"
    return Speed(train_rate, predict_rate, device, _bf16_note(gpus))


def lesson05_work(mode: str) -> tuple[int, int]:
    """``(images trained, images predicted)`` by lesson 05's training cells in ``mode`` (``"workshop"`` or ``"full"``).

    An upper bound: early stopping can end the main run sooner. Raises KeyError for another mode.
    """
    recipe, sizes = LESSON05_RECIPE[mode], LESSON05_SIZES[mode]
    weighted = COURSE_TRAIN if sizes["train"] == "all" else sizes["train"]  # the class-weight comparison's subset
    trained = (recipe["epochs"] * COURSE_TRAIN + 2 * sizes["epochs"] * weighted
               + LESSON05_RESUME_EPOCHS * LESSON05_RESUME[mode] + sum(LESSON05_PROBE_STEPS.values()) * recipe["batch_size"])
    val_passes = recipe["epochs"] + 2 * sizes["epochs"] + LESSON05_RESUME_EPOCHS + LESSON05_EXTRA_VAL_PASSES
    return trained, val_passes * COURSE_VAL


def lesson05_minutes(speed: Speed, mode: str = "full") -> float:
    """Estimate of lesson 05's training and evaluation in ``mode`` on this machine, in minutes.

    Counts the images its cells train and predict (:func:`lesson05_work`) at the probe's rates;
    loading the data, building models, callbacks and plots come on top.
    """
    trained, predicted = lesson05_work(mode)
    return (trained / speed.train_images_per_s + predicted / speed.predict_images_per_s) / 60


def check_speed(seconds: float) -> list[Finding]:
    """The probe's numbers, and the mode that fits this machine."""
    try:
        speed = measure_speed(seconds)
    except Exception as exc:
        return [Finding("speed", "fail", f"training a small CNN failed: {type(exc).__name__}: {exc}".splitlines()[0],
                        f"reinstall the pinned packages: {INSTALL_FIX}")]
    workshop, full = lesson05_minutes(speed, "workshop"), lesson05_minutes(speed, "full")
    mode = "full" if full <= FULL_MODE_MAX_MINUTES else "workshop"
    estimate = (f"lesson 05's training here: ~{workshop:.0f} min in workshop mode, ~{full:.0f} min in full mode "
                f"(full mode fits when <= {FULL_MODE_MAX_MINUTES:.0f} min)")
    if mode == "workshop" and workshop > WORKSHOP_SLOW_MINUTES:
        return [Finding("speed", "warn", f"{speed.device}: {speed.train_images_per_s:,.0f} images/s training, "
                                         f"{speed.predict_images_per_s:,.0f} predicting (float32); {speed.bf16_note}",
                        "this machine is slow even for workshop mode: use Colab (each notebook's 'Open in Colab' "
                        "badge) or a faster machine"),
                Finding("mode", "warn", f"workshop: {estimate}",
                        "run the lessons with `export FER_MODE=workshop` (lesson 00 explains the modes)")]
    return [
        Finding("speed", "ok", f"{speed.device}: {speed.train_images_per_s:,.0f} images/s training, "
                               f"{speed.predict_images_per_s:,.0f} predicting (float32); {speed.bf16_note}"),
        Finding("mode", "ok", f"{mode}: {estimate}",
                "" if mode == "full" else "run the lessons with `export FER_MODE=workshop` (lesson 00 explains the modes)"),
    ]


# --------------------------------------------------------------------------- report


def run_checks(skip_speed: bool = False, skip_camera: bool = False, probe_seconds: float = 15.0) -> list[Finding]:
    """Every check, in the order of the report."""
    findings = [check_python(), *check_packages(read_pins())]
    data, cached = check_data()
    findings.append(data)
    findings.append(check_cache(cached[2] if cached else None, cache_state(*cached[:2]) if cached else None))
    if not skip_camera:
        findings.append(check_camera())
    findings.append(check_disk())
    if not skip_speed:
        findings += check_speed(probe_seconds)
    return findings


def report(findings: list[Finding]) -> str:
    """The table and the numbered list of fixes."""
    width = max(len(f.check) for f in findings)
    lines = [f"{'check':{width}}  status  found", f"{'-' * width}  ------  -----"]
    lines += [f"{f.check:{width}}  {f.status.upper() if f.status != 'ok' else 'ok':6}  {f.found}" for f in findings]
    fixes = [f for f in findings if f.fix and f.status != "ok"] + [f for f in findings if f.fix and f.status == "ok"]
    if fixes:
        lines += ["", "Fixes:"] + [f"  {i}. {f.check} ({f.status}): {f.fix}" for i, f in enumerate(fixes, 1)]
    failed = sum(f.status == "fail" for f in findings)
    warned = sum(f.status == "warn" for f in findings)
    lines += ["", f"NOT READY: {failed} problem(s) to fix first." if failed else
              f"Ready{f', with {warned} warning(s)' if warned else ''}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line; returns the exit status (1 when something needed is missing)."""
    parser = argparse.ArgumentParser(prog="python -m helpers.doctor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-speed", action="store_true", help="skip the ~20 s training probe")
    parser.add_argument("--skip-camera", action="store_true", help="do not try to open a camera")
    parser.add_argument("--probe-seconds", type=float, default=15.0, help="length of the training probe (default 15)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON instead of a table")
    args = parser.parse_args(argv)
    if not args.json:
        print(f"Checking this machine for the FER2013 course (python {platform.python_version()}, {platform.system()}) ...",
              flush=True)
    findings = run_checks(args.skip_speed, args.skip_camera, args.probe_seconds)
    ready = not any(f.status == "fail" for f in findings)
    if args.json:
        print(json.dumps({"ready": ready, "findings": [asdict(f) for f in findings]}, indent=1))
    else:
        print(report(findings))
    return 0 if ready else 1


if __name__ == "__main__":
    sys.exit(main())
