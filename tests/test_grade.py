"""helpers.grade (class-wide grading with the course's checks) and tools/render.py (make render)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

import helpers.checks
from helpers import grade

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "01_loading_fer2013.ipynb"
LESSON = ROOT / "lessons" / "01_loading_fer2013.ipynb"
RIGHT = "return np.bincount(labels, minlength=7)"
WRONG = "return np.bincount(labels)"  # forgets the classes with no images


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_check_records_its_outcome_when_asked(tmp_path, monkeypatch, capsys):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("FER_CHECK_LOG", str(log))
    helpers.checks.check(lambda labels: np.bincount(labels), name="class_counts")
    helpers.checks.check(lambda counts: float(np.max(counts) / np.min(counts)), name="imbalance_ratio")
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["exercise"], e["status"]) for e in entries] == [("class_counts", "fail"), ("imbalance_ratio", "pass")]
    assert "case 3/4" in entries[0]["detail"]
    assert "FAIL" in capsys.readouterr().out  # the student still gets the printed message


LESSON_01_EXERCISES = ["pixel_row_problem", "parse_pixels", "folder_counts_in_class_order", "class_counts",
                       "twins_between", "split_without_twins"]  # in notebook order
SELF_CHECK_01 = [f"self-check {i}" for i in range(1, len(helpers.checks.QUIZZES["01"]) + 1)]


def test_exercises_are_found_in_check_cells():
    assert [name for _, name in grade.exercises_in(nbformat.read(LESSON, as_version=4))] == LESSON_01_EXERCISES


@pytest.fixture(scope="module")
def class_grades(tmp_path_factory) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Grade lesson 01 three ways in one run: the solution, the blank lesson, a planted mistake."""
    folder = tmp_path_factory.mktemp("submissions")
    planted = folder / "planted_01.ipynb"
    text = SOLUTION.read_text(encoding="utf-8")
    assert RIGHT in text
    planted.write_text(text.replace(RIGHT, WRONG), encoding="utf-8")
    out = folder / "grades.csv"
    names = {"solution": str(SOLUTION), "lesson": str(LESSON), "planted": str(planted)}
    assert grade.main([*names.values(), "--csv", str(out), "--timeout", "300", "--mode", "quick"]) == 0
    return _read(out), names


def _rows(grades, which: str) -> dict[str, dict[str, str]]:
    rows, names = grades
    return {r["exercise"]: r for r in rows if r["notebook"] == names[which]}


@pytest.mark.slow
def test_solution_passes_every_exercise(class_grades):
    rows = _rows(class_grades, "solution")
    assert set(rows) == set(LESSON_01_EXERCISES + SELF_CHECK_01)
    assert {r["status"] for r in rows.values()} == {"pass"}


@pytest.mark.slow
def test_blank_lesson_is_not_attempted(class_grades):
    rows = _rows(class_grades, "lesson")
    assert set(rows) == set(LESSON_01_EXERCISES + SELF_CHECK_01)
    assert {r["status"] for r in rows.values()} == {"not attempted"}


@pytest.mark.slow
def test_planted_mistake_fails_with_its_case(class_grades):
    rows = _rows(class_grades, "planted")
    assert rows["folder_counts_in_class_order"]["status"] == "pass"
    assert rows["twins_between"]["status"] == "pass"
    assert rows["class_counts"]["status"] == "fail"
    assert "case 3/4 is wrong" in rows["class_counts"]["detail"]
    assert "expected: array([0, 0, 0, 3, 0, 0, 0])" in rows["class_counts"]["detail"]
    assert grade.NOTEBOOK_ROW not in rows  # no cell raised


@pytest.mark.slow
def test_endless_loop_times_out_into_error(tmp_path):
    nb = _notebook(
        tmp_path / "endless.ipynb",
        "import helpers",
        "def imbalance_ratio(counts):\n    raise NotImplementedError",
        "while True:\n    pass",
        "imbalance_ratio = helpers.checks.check(imbalance_ratio)",
    )
    started = time.monotonic()
    rows, _ = grade.grade_notebook(nb, timeout=8)
    assert time.monotonic() - started < 60
    by_name = {r.exercise: r for r in rows}
    assert by_name["imbalance_ratio"].status == "error"
    assert "time limit of 8 s" in by_name["imbalance_ratio"].detail
    assert by_name[grade.NOTEBOOK_ROW].status == "error"
    assert "time limit of 8 s (in cell 3 (`while True:`))" in by_name[grade.NOTEBOOK_ROW].detail


def test_crashing_cells_are_errors_and_later_exercises_still_graded(tmp_path):
    nb = _notebook(
        tmp_path / "crash.ipynb",
        "import helpers\nimport numpy as np",
        "1 / 0",
        "class_counts = helpers.checks.check(class_countz)",  # a typo: the check cell itself raises
        "def imbalance_ratio(counts):\n    return float(np.max(counts) / np.min(counts))",
        "imbalance_ratio = helpers.checks.check(imbalance_ratio)",
    )
    not_a_notebook = tmp_path / "broken.ipynb"
    not_a_notebook.write_text("{ this is not json")
    out = tmp_path / "grades.csv"
    assert grade.main([str(nb), str(not_a_notebook), "--csv", str(out), "--timeout", "120"]) == 0
    rows = {(Path(r["notebook"]).name, r["exercise"]): r for r in _read(out)}
    assert rows[("crash.ipynb", "class_counts")]["status"] == "error"
    assert "NameError" in rows[("crash.ipynb", "class_counts")]["detail"]
    assert rows[("crash.ipynb", "imbalance_ratio")]["status"] == "pass"
    assert "cell 2 (`1 / 0`) raised ZeroDivisionError" in rows[("crash.ipynb", grade.NOTEBOOK_ROW)]["detail"]
    assert rows[("broken.ipynb", grade.NOTEBOOK_ROW)]["status"] == "error"
    assert "could not be read" in rows[("broken.ipynb", grade.NOTEBOOK_ROW)]["detail"]


def test_modes_set_the_kernel_environment():
    quick = grade.mode_environment("quick", {"PYTHONPATH": "/elsewhere"})
    workshop = grade.mode_environment("workshop", {"FER_QUICK": "1"})
    assert (quick["FER_MODE"], quick["FER_QUICK"]) == ("quick", "1")
    assert quick["PYTHONPATH"].split(":")[0] == str(ROOT) and quick["PYTHONPATH"].endswith("/elsewhere")
    assert workshop["FER_MODE"] == "workshop" and "FER_QUICK" not in workshop
    with pytest.raises(ValueError, match="Unknown mode"):
        grade.mode_environment("slow")


@pytest.mark.slow
def test_render_writes_html_of_an_executed_solution(tmp_path):
    """What `make render` runs, on the lightest notebook, in quick mode (full mode takes hours)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "render.py"), str(ROOT / "solutions" / "00_welcome.ipynb"),
         "--mode", "quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    html = (tmp_path / "00_welcome.html").read_text(encoding="utf-8")
    assert "00 · Welcome" in html or "00 &#183; Welcome" in html
    assert "mode:   QUICK" in html  # the executed banner, not just the source


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_render_passes_the_mode():
    done = subprocess.run(["make", "-n", "render", "MODE=workshop"], cwd=ROOT, capture_output=True, text=True)
    assert "tools/render.py --mode workshop --out rendered" in done.stdout
    assert "rendered/" in (ROOT / ".gitignore").read_text().split()


def test_render_reports_a_failing_notebook_and_still_writes_it(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("render", ROOT / "tools" / "render.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    nb = _notebook(tmp_path / "broken.ipynb", "print('before')", "1 / 0", "print('after')")
    assert render.main([str(nb), "--mode", "quick", "--out", str(tmp_path / "html")]) == 1
    html = (tmp_path / "html" / "broken.html").read_text(encoding="utf-8")
    assert "ZeroDivisionError" in html and "after" in html
    assert "cell 2 (`1 / 0`) raised ZeroDivisionError" in capsys.readouterr().out
