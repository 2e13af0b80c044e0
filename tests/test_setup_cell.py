"""The Colab setup cell (tools/make_lessons.py's template), run with a stand-in ``google.colab``.

A fake runner replaces ``subprocess.run`` (git and pip) and a fake ``helpers`` records the call to
``start``, so the cell's logic runs here in milliseconds: where it clones from, what a failed clone
says, and that OpenCV is installed only when Colab's own ``cv2`` is missing or unusable.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from make_lessons import setup_cell  # noqa: E402

from helpers.course import REPO_URL  # noqa: E402

CELL = setup_cell("05 · Training with Adam")


class Runner:
    """Stands in for subprocess.run: records commands; ``git clone`` copies pyproject.toml or fails."""

    def __init__(self, clone_error: str | None = None):
        self.commands: list[list[str]] = []
        self.clone_error = clone_error

    def __call__(self, cmd, **kwargs):
        self.commands.append(list(cmd))
        if cmd[:2] == ["git", "clone"]:
            if self.clone_error:
                return subprocess.CompletedProcess(cmd, 128, "", f"Cloning into 'fer-course'...\n{self.clone_error}\n")
            Path(cmd[-1]).mkdir()
            shutil.copy(ROOT / "pyproject.toml", Path(cmd[-1]) / "pyproject.toml")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    def pip_installs(self) -> list[list[str]]:
        return [c[c.index("install") + 1:] for c in self.commands if "pip" in c]


@pytest.fixture()
def colab(tmp_path, monkeypatch):
    """A Colab-like session in an empty folder: fake google.colab, fake helpers, fake runner."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FER_COURSE_REPO", raising=False)
    google = types.ModuleType("google")
    google.colab = types.ModuleType("google.colab")
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    started = []
    fake_helpers = types.ModuleType("helpers")
    fake_helpers.start = lambda title: started.append(title) or title
    monkeypatch.setitem(sys.modules, "helpers", fake_helpers)
    monkeypatch.setattr(sys, "path", list(sys.path))
    runner = Runner()
    monkeypatch.setattr(subprocess, "run", runner)
    return types.SimpleNamespace(runner=runner, started=started, monkeypatch=monkeypatch)


def run_cell(cv2_module=None, monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setitem(sys.modules, "cv2", cv2_module)  # None: "import cv2" raises ImportError
    exec(compile(CELL, "setup-cell", "exec"), {})


def test_clones_the_course_and_keeps_colabs_opencv(colab):
    run_cell(types.SimpleNamespace(CascadeClassifier=object), colab.monkeypatch)
    clone, *_ = colab.runner.commands
    assert clone == ["git", "clone", "-q", "--depth", "1", REPO_URL, "fer-course"]
    deps, editable = colab.runner.pip_installs()
    assert not any(d.startswith("opencv") for d in deps) and any(d.startswith("keras") for d in deps)
    assert editable == ["-q", "--no-deps", "-e", "fer-course"]
    assert colab.started == ["05 · Training with Adam"] and "fer-course" in sys.path


@pytest.mark.parametrize("cv2_module", [None, types.SimpleNamespace(__version__="5.0.0")], ids=["no cv2", "cv2 without cascades"])
def test_installs_opencv_only_when_cv2_is_missing_or_unusable(colab, cv2_module):
    run_cell(cv2_module, colab.monkeypatch)
    deps, _ = colab.runner.pip_installs()
    assert [d for d in deps if d.startswith("opencv")] == ["opencv-python-headless>=4.8,<5"]


def test_the_address_can_be_overridden(colab):
    colab.monkeypatch.setenv("FER_COURSE_REPO", "https://github.com/someone/fer-fork")
    run_cell(types.SimpleNamespace(CascadeClassifier=object), colab.monkeypatch)
    assert colab.runner.commands[0][-2] == "https://github.com/someone/fer-fork"


def test_a_failed_clone_says_why_and_what_to_do_in_one_line(colab):
    colab.runner.clone_error = "fatal: repository 'https://github.com/fer-course/fer2013-course/' not found"
    with pytest.raises(SystemExit) as stop:
        run_cell(types.SimpleNamespace(CascadeClassifier=object), colab.monkeypatch)
    message = str(stop.value)
    assert "\n" not in message
    assert REPO_URL in message and "not found" in message
    assert "Upload the course folder" in message and "FER_COURSE_REPO" in message
    assert colab.runner.pip_installs() == [] and colab.started == []


def test_an_uploaded_folder_is_used_without_cloning(colab, tmp_path):
    (tmp_path / "fer-course").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "fer-course" / "pyproject.toml")
    run_cell(types.SimpleNamespace(CascadeClassifier=object), colab.monkeypatch)
    assert not any(c[:2] == ["git", "clone"] for c in colab.runner.commands)
    assert colab.started == ["05 · Training with Adam"]


def test_outside_colab_nothing_is_installed(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    runner = Runner()
    monkeypatch.setattr(subprocess, "run", runner)
    started = []
    fake_helpers = types.ModuleType("helpers")
    fake_helpers.start = lambda title: started.append(title)
    monkeypatch.setitem(sys.modules, "helpers", fake_helpers)
    exec(compile(CELL, "setup-cell", "exec"), {})
    assert runner.commands == [] and started == ["05 · Training with Adam"]
