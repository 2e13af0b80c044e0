"""Grading a class whose submissions misbehave: helpers.grade's containment and helpers.grade_report.

One grader run (``--jobs 2``, a few seconds per notebook) over a submissions tree these tests build:
a notebook that never returns, one whose kernel exits, one that segfaults, one calling sys.exit,
one printing 50 MB, files that are not gradable notebooks, a pass, a fail and a student with two
submissions. No notebook here imports TensorFlow, so each kernel starts in about two seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers import grade, grade_report

LESSON = "01_loading_fer2013"
TIMEOUT = 15  # seconds per notebook in the class run (a kernel starts in 2-3 s on idle cores; CI is busier)
RIGHT = "def imbalance_ratio(counts):\n    return float(np.max(counts) / np.min(counts))"
WRONG = "def class_counts(labels):\n    return np.bincount(labels)"  # forgets the classes with no images


def _notebook(path: Path, *sources: str, **metadata) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata.update(metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _build_class(root: Path) -> dict[str, Path]:
    """The submissions tree: per-student folders and flat ``<name>_<lesson>`` / ``<lesson>_<name>`` files."""
    check = "imbalance_ratio = helpers.checks.check(imbalance_ratio)"
    files = {
        "passer": _notebook(root / "passer" / f"{LESSON}.ipynb", "import helpers\nimport numpy as np", RIGHT, check),
        "failer": _notebook(root / f"failer_{LESSON}.ipynb", "import helpers\nimport numpy as np", WRONG,
                            "class_counts = helpers.checks.check(class_counts)"),
        "hang": _notebook(root / f"{LESSON}_hang.ipynb", "import helpers\nimport numpy as np", RIGHT,
                          "while True:\n    pass", check),
        "osexit": _notebook(root / "osexit" / f"{LESSON}.ipynb", "import os\nos._exit(1)", "print('after')"),
        "segfault": _notebook(root / "segfault" / f"{LESSON}.ipynb", "import ctypes\nctypes.string_at(0)"),
        "sysexit": _notebook(root / "sysexit" / f"{LESSON}.ipynb", "import helpers\nimport numpy as np",
                             "import sys\nsys.exit(3)", RIGHT, check),
        "flood": _notebook(root / "flood" / f"{LESSON}.ipynb", "for _ in range(50_000):\n    print('x' * 1000)",
                           "print('after')"),
        "redraw": _notebook(root / "redraw" / f"{LESSON}.ipynb",  # 30 MB printed, 100 kB kept: like live curves
                            "from IPython.display import clear_output\nfor _ in range(300):\n"
                            "    clear_output(wait=True)\n    print('x' * 100_000)", "import helpers\nimport numpy as np",
                            RIGHT, check),
        "empty": _notebook(root / "empty" / f"{LESSON}.ipynb", "print('no exercise here')"),
        "rlang": _notebook(root / "rlang" / f"{LESSON}.ipynb", "x <- 1",
                           kernelspec={"name": "ir", "language": "R", "display_name": "R"}),
        "twin_folder": _notebook(root / "twin" / f"{LESSON}.ipynb", "import helpers\nimport numpy as np", RIGHT, check),
        "twin_flat": _notebook(root / f"twin_{LESSON}.ipynb", "print('the other twin')"),
    }
    files["notjson"] = root / "notjson" / f"{LESSON}.ipynb"
    files["notjson"].parent.mkdir()
    files["notjson"].write_text("{ this is not json", encoding="utf-8")
    files["v3"] = root / "v3" / f"{LESSON}.ipynb"
    files["v3"].parent.mkdir()
    files["v3"].write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}))
    return files


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Grade the whole tree once with --jobs 2 and --feedback; the CSV, the hashes before, the time taken."""
    root = tmp_path_factory.mktemp("class")
    files = _build_class(root / "submissions")
    before = {name: _sha(path) for name, path in files.items()}
    out = root / "grades.csv"
    started = time.monotonic()
    status = grade.main([str(root / "submissions"), "--csv", str(out), "--jobs", "2", "--timeout", str(TIMEOUT),
                         "--feedback", str(root / "feedback")])
    seconds = time.monotonic() - started
    assert status == 0
    return {"files": files, "before": before, "seconds": seconds, "rows": pd.read_csv(out, keep_default_na=False),
            "root": root, "out": out}


def _row(graded, student: str, exercise: str = grade.NOTEBOOK_ROW) -> dict:
    rows = graded["rows"]
    found = rows[(rows["student"] == student) & (rows["exercise"] == exercise)]
    assert len(found) == 1, f"{student}/{exercise}: {len(found)} rows in\n{rows.to_string()}"
    return found.iloc[0].to_dict()


@pytest.mark.slow
def test_every_submission_gets_rows_and_the_class_finishes(graded_class):
    rows = graded_class["rows"]
    assert list(rows.columns) == ["student", "notebook", "exercise", "status", "detail"]
    assert set(rows["notebook"]) == {str(p) for p in graded_class["files"].values()}
    assert graded_class["seconds"] < 300  # 14 notebooks, 2 at a time: about 25 s on idle cores, 100 s at load 10


@pytest.mark.slow
def test_submitted_files_are_never_modified(graded_class):
    assert {name: _sha(path) for name, path in graded_class["files"].items()} == graded_class["before"]


@pytest.mark.slow
def test_students_are_named_from_folders_and_file_names(graded_class):
    students = set(graded_class["rows"]["student"])
    assert {"passer", "failer", "hang", "osexit", "segfault", "twin"} <= students
    assert _row(graded_class, "passer", "imbalance_ratio")["status"] == "pass"
    failed = _row(graded_class, "failer", "class_counts")
    assert failed["status"] == "fail" and "case 3/4 is wrong" in failed["detail"]


@pytest.mark.slow
def test_endless_cell_is_stopped_at_the_time_limit(graded_class):
    assert f"time limit of {TIMEOUT} s (in cell 3 (`while True:`))" in _row(graded_class, "hang")["detail"]
    assert _row(graded_class, "hang", "imbalance_ratio")["status"] == "error"


@pytest.mark.slow
@pytest.mark.parametrize("student, expected", [
    ("osexit", "the kernel exited with status 1"),
    ("segfault", "the kernel crashed (SIGSEGV"),
    ("sysexit", "cell 2 (`import sys`) raised SystemExit: 3"),
    ("flood", "printed more than 10 MB of output in cell 1 (`for _ in range(50_000):`)"),
    ("notjson", "could not be read: it is not a notebook (not JSON"),
    ("v3", "it is nbformat 3"),
    ("rlang", "it is a notebook in R (kernel `ir`)"),
])
def test_each_broken_submission_gets_one_row_with_its_reason(graded_class, student, expected):
    row = _row(graded_class, student)
    assert row["status"] == "error" and expected in row["detail"], row["detail"]
    assert "\n" not in row["detail"]


@pytest.mark.slow
def test_output_that_is_cleared_does_not_count(graded_class):
    assert _row(graded_class, "redraw", "imbalance_ratio")["status"] == "pass"
    assert grade.NOTEBOOK_ROW not in set(graded_class["rows"].query("student == 'redraw'")["exercise"])


@pytest.mark.slow
def test_a_notebook_without_exercises_still_gets_a_row(graded_class):
    assert "no exercise's check cell was found" in _row(graded_class, "empty")["detail"]


@pytest.mark.slow
def test_sys_exit_does_not_stop_later_exercises(graded_class):
    assert _row(graded_class, "sysexit", "imbalance_ratio")["status"] == "pass"


@pytest.mark.slow
def test_two_submissions_with_one_name_are_each_flagged_and_get_no_feedback(graded_class):
    rows = graded_class["rows"]
    twins = rows[(rows["student"] == "twin") & (rows["exercise"] == "(student)")]
    assert len(twins) == 2 and set(twins["status"]) == {"error"}
    assert all("twin has 2 submissions of 01_loading_fer2013" in d for d in twins["detail"])
    assert not (graded_class["root"] / "feedback" / "twin.md").exists()


@pytest.mark.slow
def test_feedback_holds_only_the_students_own_results(graded_class):
    folder = graded_class["root"] / "feedback"
    failer = (folder / "failer.md").read_text(encoding="utf-8")
    assert "| class_counts | fail |" in failer and "case 3/4 is wrong" in failer
    assert "passer" not in failer and "imbalance_ratio" not in failer and "SIGSEGV" not in failer
    assert "SIGSEGV" in (folder / "segfault.md").read_text(encoding="utf-8")
    assert (folder / "passer.md").read_text(encoding="utf-8").count("| pass |") == 1


@pytest.mark.slow
def test_summary_table_and_figure_are_written_beside_the_csv(graded_class):
    out = graded_class["out"]
    table = pd.read_csv(out.with_name("grades_summary.csv"), index_col="exercise", keep_default_na=False)
    assert table.loc["imbalance_ratio", "pass"] == 4  # passer, sysexit, redraw, twin's folder copy
    assert table.loc["imbalance_ratio", "error"] == 1  # the hang
    assert table.loc["class_counts", "most common failure"] == "case 3/4 is wrong. (1 of 1)"
    assert list(table.columns[:5]) == list(grade_report.STATUSES)
    png = out.with_name("grades_summary.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000


def test_output_is_dropped_as_it_arrives(tmp_path):
    """The grader keeps at most the cap of a flood of prints, and stops that notebook."""
    nb = _notebook(tmp_path / "flood.ipynb", "for _ in range(50_000):\n    print('x' * 1000)", "print('after')")
    run = grade.execute_notebook(nb, tmp_path / "work", timeout=30)
    kept = sum(len(o.get("text", "")) for cell in run.notebook.cells for o in cell.get("outputs", []))
    assert kept <= grade.OUTPUT_LIMIT_BYTES + 1_000
    assert "the grader dropped the rest" in run.problem
    assert run.notebook.cells[1].outputs == []  # the cell after it never ran


@pytest.mark.parametrize("path, expected", [
    ("submissions/alice/01_loading_fer2013.ipynb", ("alice", "01_loading_fer2013")),
    ("submissions/alice_01_loading_fer2013.ipynb", ("alice", "01_loading_fer2013")),
    ("submissions/01_loading_fer2013_bob-smith.ipynb", ("bob-smith", "01_loading_fer2013")),
    ("submissions/Carol 02_Class_Imbalance.ipynb", ("Carol", "02_class_imbalance")),
    ("submissions/dave.ipynb", ("dave", "")),
])
def test_student_name_rule(path, expected):
    assert grade_report.student_name(path) == expected


def test_duplicates_are_per_student_and_lesson():
    paths = ["s/alice/01_loading_fer2013.ipynb", "s/alice_01_loading_fer2013.ipynb", "s/alice/02_class_imbalance.ipynb"]
    assert grade_report.duplicates(paths) == {("alice", "01_loading_fer2013"): paths[:2]}


@pytest.mark.slow
def test_isolated_workers_that_hang_or_die_give_a_reason_and_the_rest_finish():
    started = time.monotonic()
    results = grade_report.run_isolated(time.sleep, [(60,), (0,)], jobs=2, guard_s=6)
    assert "ran past the grader's guard of 6 s" in results[0] and results[1] is None
    assert time.monotonic() - started < 30
    assert grade_report.run_isolated(os._exit, [(7,)], jobs=1, guard_s=30) == [
        "the grader's worker for it died (exit code 7)"]


def test_bad_arguments_exit_with_status_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        grade.main([str(tmp_path), "--csv", str(tmp_path / "g.csv")])
    assert stopped.value.code == 2 and "no .ipynb in" in capsys.readouterr().err


def test_a_file_over_the_size_limit_is_refused_before_it_is_decoded(tmp_path):
    big = tmp_path / "big.ipynb"
    big.write_bytes(b"\xff" * 5_000)  # not even UTF-8: only the size may be looked at
    nb, reason = grade.read_submission(big, limit_bytes=4_000)
    assert nb is None and "was not graded: it is 0.005 MB, over the 0.004 MB a submission may be" in reason
    assert "Clear Outputs" in reason
