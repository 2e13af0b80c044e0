"""Shared fixtures. Real-data tests use ../shared (or FER2013_DIR) and skip cleanly without it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

os.environ.setdefault("FER_QUICK", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Runs and models (helpers.runs_dir) go to a folder of this test session, not to the course's runs/,
# where a student's or a developer's own trained models live. Notebook kernels and xdist workers
# inherit it; the controlling process removes it when the session ends.
_SESSION_RUNS = None
if not os.environ.get("FER_RUNS_DIR"):
    import tempfile

    _SESSION_RUNS = os.environ["FER_RUNS_DIR"] = tempfile.mkdtemp(prefix="fer-test-runs-")


def _real_dir() -> Path | None:
    for candidate in (os.environ.get("FER2013_DIR"), SHARED / "fer2013"):
        if candidate and (Path(candidate) / "train").is_dir():
            return Path(candidate)
    return None


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """End a server or browser a test started: SIGTERM, up to ``timeout`` seconds to exit, then SIGKILL."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def fer_dir() -> Path:
    """The real FER2013 image folders (train/, test/); skips the test when absent."""
    path = _real_dir()
    if path is None:
        pytest.skip("real FER2013 not available (../shared/fer2013 or FER2013_DIR)")
    return path


@pytest.fixture(scope="session")
def fer_csv_sample() -> Path:
    """The 576-row sample of the original fer2013.csv; skips the test when absent."""
    path = SHARED / "fer2013-csv-sample" / "fer2013.csv"
    if not path.is_file():
        pytest.skip("../shared/fer2013-csv-sample/fer2013.csv not available")
    return path


@pytest.fixture()
def no_real_data(monkeypatch, tmp_path):
    """Pretend this is a fresh clone: no FER2013_DIR and an empty data/ folder."""
    import helpers.data_sources as data_sources

    monkeypatch.delenv("FER2013_DIR", raising=False)
    monkeypatch.setattr(data_sources, "DATA_DIR", tmp_path / "data")  # where locate_fer2013 looks
    return tmp_path


# Notebooks that write next to themselves (webcam_output...; runs and models go through
# helpers.runs_dir, above) would leave files in lessons/ and solutions/, where nbval runs them.
# What a test session created there is removed when the whole session ends (in the controlling process: xdist workers still running
# notebooks must not lose their files); anything that was there before, e.g. a student's own
# models/, is left alone.
NOTEBOOK_OUTPUTS = ("runs", "models", "logs", "webcam_output", "webcam_output.mp4")


def _notebook_outputs() -> set[Path]:
    return {ROOT / d / name for d in ("lessons", "solutions") for name in NOTEBOOK_OUTPUTS if (ROOT / d / name).exists()}


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        session.config._fer_outputs_before = _notebook_outputs()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_fer_outputs_before", None)
    if before is None or hasattr(session.config, "workerinput"):
        return
    import shutil

    for path in _notebook_outputs() - before:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    if _SESSION_RUNS is not None:
        shutil.rmtree(_SESSION_RUNS, ignore_errors=True)


# The honest protocol (lesson 06): lessons 06-08 run under nbval with the test split locked
# (FER_LOCK_TEST=1), so any cell that reads it before lesson 06's final_test fails the notebook.
# nbval starts a notebook's kernel when its first cell is set up, and the kernel inherits this
# environment; every other notebook and test starts unlocked (an xdist worker runs many files).
# A plugin, not a hook of this conftest: this file's own hooks only see the items under tests/.
LOCKED_NOTEBOOKS = ("06_evaluation", "07_webcam", "08_dataset_limits")


class LockTestSplit:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb" and path.stem in LOCKED_NOTEBOOKS:
            os.environ["FER_LOCK_TEST"] = "1"
        else:
            os.environ.pop("FER_LOCK_TEST", None)


_RUNS_BASE = os.environ["FER_RUNS_DIR"]


class RunsDirPerNotebook:
    """Each notebook's kernel gets its own ``FER_RUNS_DIR`` below the session's: solutions/NN and
    lessons/NN run the same cells, often at the same time on the two xdist workers, and would
    otherwise write into the same run folders (a resumed run would see the other's epochs)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb":
            os.environ["FER_RUNS_DIR"] = str(Path(_RUNS_BASE) / f"{path.parent.name}-{path.stem}")
        else:
            os.environ["FER_RUNS_DIR"] = _RUNS_BASE


def pytest_configure(config):
    config.pluginmanager.register(LockTestSplit(), "fer-lock-test-split")
    config.pluginmanager.register(RunsDirPerNotebook(), "fer-runs-dir-per-notebook")
