"""helpers.grade's trust boundary: verdicts come from outside the student's kernel, tampering is flagged.

Every notebook here is built by the test: lesson 01's three exercises with a reduced setup cell (no
TensorFlow in the kernel), so that one kernel run costs a few seconds. The five submissions are
graded in one `python -m helpers.grade` run shared by the tests (module-scoped fixture).
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

import helpers.checks
from helpers import grade, grade_answers, grade_trust
from helpers.checks import EXERCISES, run_check
from helpers.checks.quiz import QUIZZES

ROOT = Path(__file__).resolve().parents[1]
LESSON = nbformat.read(ROOT / "lessons" / "01_loading_fer2013.ipynb", as_version=4)
EXERCISES_01 = ["folder_counts_in_class_order", "class_counts", "twins_between"]
CHECK = {e: f"{e} = helpers.checks.check({e})" for e in EXERCISES_01}
STUB = {e: next(c.source for c in LESSON.cells if c.cell_type == "code" and c.source.startswith(f"def {e}(")) for e in EXERCISES_01}
SETUP = 'import helpers\nimport numpy as np\nfrom helpers import CLASS_NAMES\ninfo = helpers.start("01 · Loading and exploring FER2013")'
RIGHT = {
    "folder_counts_in_class_order": "def folder_counts_in_class_order(folder_counts):\n"
                                    "    out = []\n    for name in CLASS_NAMES:\n        out.append(int(folder_counts.get(name, 0)))\n    return out",
    "class_counts": "def class_counts(labels):\n    return np.array([(np.asarray(labels) == k).sum() for k in range(7)])",
    "twins_between": STUB["twins_between"],  # left undone in the honest notebook
}
FORGED_CORE = ("import helpers.checks.core as core\n"  # the issue's five lines: every check reports a pass
               "def forged(answer, name=None):\n"
               "    name = name or answer.__name__\n"
               "    return core.Result(name, 'pass', f'{name}: all cases pass')\n"
               "core.run_check = forged")


def _notebook(path: Path, *cells: str, title: str = "# 01 · Loading and exploring FER2013") -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(title)] + [nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, path)
    return path


def _lesson(*extra: str, answers: dict[str, str] | None = None, checks: dict[str, str] | None = None) -> list[str]:
    """SETUP, the extra cells, then each exercise cell (``answers`` or the stub) and its check cell."""
    cells = [SETUP, *extra]
    for e in EXERCISES_01:
        cells += [(answers or {}).get(e, STUB[e]), (checks or {}).get(e, CHECK[e])]
    return [c for c in cells if c is not None]


SUBMISSIONS = {
    # the issue's attack on an unfilled lesson: a pass on all three on the old grader
    "forged_core": _lesson(FORGED_CORE),
    # forged lines in FER_CHECK_LOG, check/EXERCISES patched, the reference's own library function rebound
    "patched": [SETUP,
                "import json, os\nfor e in ('folder_counts_in_class_order', 'class_counts', 'twins_between'):\n"
                "    with open(os.environ['FER_CHECK_LOG'], 'a') as f:\n"
                "        f.write(json.dumps({'exercise': e, 'status': 'pass', 'detail': 'forged'}) + '\\n')",
                "import helpers.splits\nhelpers.splits.class_counts = lambda labels: np.bincount(labels)",  # the reference calls this
                STUB["folder_counts_in_class_order"], CHECK["folder_counts_in_class_order"],
                "def class_counts(labels):\n    return np.bincount(labels)", CHECK["class_counts"],
                "setattr(helpers.checks, 'check', lambda f, name=None: f)\n"
                "helpers.checks.EXERCISES['twins_between'].reference = lambda hashes: None",
                STUB["twins_between"], CHECK["twins_between"]],
    # the course's files on disk: the kernel's copy (blocked), the course itself (blocked), a child process
    # (not followed, but the copy's hash changes); a check cell deleted, another moved
    "disk": [SETUP,
             "import helpers.checks.core, sys\nfrom pathlib import Path\n"
             "blocked = []\nfor path in [Path(helpers.checks.core.__file__)] + [Path(p) / 'helpers' / 'checks' / 'core.py' for p in sys.path]:\n"
             "    if path.is_file():\n        try:\n            open(path, 'a').close()\n        except PermissionError:\n"
             "            blocked.append(str(path))\nprint('blocked:', blocked)",
             "import subprocess, helpers.checks.core\n"
             "subprocess.run(['sh', '-c', 'echo \"# patched\" >> ' + helpers.checks.core.__file__], check=True)",
             RIGHT["folder_counts_in_class_order"], RIGHT["class_counts"],
             CHECK["class_counts"], CHECK["folder_counts_in_class_order"],  # moved: class_counts' check first
             STUB["twins_between"]],  # twins_between's check cell deleted
    # cheats in the exercise functions themselves
    "cheats": _lesson(answers={
        "folder_counts_in_class_order": "def folder_counts_in_class_order(folder_counts):\n    import helpers.checks\n"
                                        "    return helpers.checks.EXERCISES['folder_counts_in_class_order'].reference(folder_counts)",
        "class_counts": "def class_counts(labels):\n    return helpers.splits.class_counts(labels)",
        # right only where the notebook's kernel runs it (an obfuscated route to the reference), else wrong
        "twins_between": "def twins_between(hashes):\n    if 'get_ipython' in globals():\n"
                         "        return vars(getattr(__import__('helpers'), 'che' + 'cks'))['EXER' + 'CISES'][twins_between.__name__].reference(hashes)\n"
                         "    return {}"}),
    # honest work: a right answer written differently, a wrong one, a check cell changed, self-check answers
    "honest": _lesson("self_check_answers = {1: 'a', 2: 3.5}",  # lesson 01's questions: 1 right, 2 wrong, 3 blank
                      answers={**RIGHT, "class_counts": "def class_counts(labels):\n    return np.bincount(labels)"},
                      checks={"twins_between": "twins_between = twins_between"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict[str, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("class")
    paths = {name: _notebook(folder / f"{name}.ipynb", *cells) for name, cells in SUBMISSIONS.items()}
    before = {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in paths.items()}
    assert QUIZZES["01"][0].answer == "a" and QUIZZES["01"][1].answer != 3.5  # what the honest answers rely on
    assert grade.main([*map(str, paths.values()), "--csv", str(folder / "grades.csv"), "--timeout", "120"]) == 0
    with open(folder / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = {name: {r["exercise"]: r for r in rows if r["notebook"] == str(p)} for name, p in paths.items()}
    out["_unchanged"] = {name: {"same": str(hashlib.sha256(p.read_bytes()).hexdigest() == before[name])} for name, p in paths.items()}
    return out


def _status(rows: dict[str, dict[str, str]], exercise: str) -> str:
    return rows[exercise]["status"]


def test_the_issue_rebinding_is_not_attempted_and_flagged(graded):
    rows = graded["forged_core"]
    for e in EXERCISES_01:
        assert rows[e]["status"] == "flagged", rows[e]
        assert "rebinds helpers.checks.core.run_check" in rows[e]["detail"]
        assert "verdict, flag aside: not attempted" in rows[e]["detail"]
    assert rows[grade.NOTEBOOK_ROW]["status"] == "flagged"
    assert "imports helpers.checks" in rows[grade.NOTEBOOK_ROW]["detail"]


def test_forged_log_patched_check_and_rebound_reference_earn_nothing(graded):
    rows = graded["patched"]
    assert not any(r["status"] == "pass" for r in rows.values())
    assert "not attempted" in rows["folder_counts_in_class_order"]["detail"]
    assert "case 3/4 is wrong" in rows["class_counts"]["detail"]  # its check PASSED in the kernel (the reference was rebound)
    assert "not attempted" in rows["twins_between"]["detail"]
    wide = rows[grade.NOTEBOOK_ROW]["detail"]
    for seen in ("names FER_CHECK_LOG in a string", "rebinds helpers.splits.class_counts", "calls setattr on helpers.checks",
                 "rebinds helpers.checks.EXERCISES[].reference"):
        assert seen in wide, wide


def test_writing_the_course_is_blocked_and_a_child_process_shows_in_the_hashes(graded):
    rows = graded["disk"]
    wide = rows[grade.NOTEBOOK_ROW]["detail"]
    assert "the kernel wrote" in wide and "checks/core.py" in wide
    assert "changed checks/core.py in its copy of the course's helpers" in wide
    assert "in the course itself" not in wide and not grade_trust.course_changes()  # the real course was never touched
    assert "its check cell was deleted" in rows["twins_between"]["detail"]
    assert "its check cell was moved" in rows["class_counts"]["detail"]
    assert {_status(rows, e) for e in EXERCISES_01} == {"flagged"}
    assert "verdict, flag aside: pass" in rows["folder_counts_in_class_order"]["detail"]


def test_cheating_functions_do_not_pass(graded):
    rows = graded["cheats"]
    calls_reference = rows["folder_counts_in_class_order"]
    assert calls_reference["status"] == "flagged" and "imports helpers.checks" in calls_reference["detail"]
    assert "raised ModuleNotFoundError" in calls_reference["detail"]  # the worker has no helpers.checks
    library = rows["class_counts"]
    assert library["status"] == "flagged" and "the course function the reference answer is (helpers.splits.class_counts)" in library["detail"]
    in_kernel_only = rows["twins_between"]  # passed in the kernel; the grader's run decides
    assert in_kernel_only["status"] == "fail" and "case 1/5 is wrong" in in_kernel_only["detail"]
    assert grade.NOTEBOOK_ROW not in rows  # nothing notebook-wide: the evidence is each exercise's own


def test_honest_work_is_graded_as_the_notebook_check_would(graded):
    rows = graded["honest"]
    assert rows["folder_counts_in_class_order"]["status"] == "pass"  # right, written another way
    wrong = rows["class_counts"]
    assert wrong["status"] == "fail" and "case 3/4 is wrong" in wrong["detail"]
    assert "expected: array([0, 0, 0, 3, 0, 0, 0])" in wrong["detail"]
    assert wrong["detail"] == run_check(lambda labels: np.bincount(labels), "class_counts").message  # the student's own words
    changed = rows["twins_between"]
    assert changed["status"] == "flagged" and "its check cell was changed" in changed["detail"]
    assert [rows[f"self-check {i}"]["status"] for i in (1, 2, 3)] == ["pass", "fail", "not attempted"]


def test_submitted_files_are_never_modified(graded):
    assert all(v["same"] == "True" for v in graded["_unchanged"].values())


def test_a_notebook_of_another_lesson_gets_one_line(tmp_path):
    other = _notebook(tmp_path / "02.ipynb", 'import helpers\ninfo = helpers.start("02 · Class imbalance")', title="# 02 · Class imbalance")
    rows, _ = grade.grade_notebook(other, lesson="01")
    assert [(r.exercise, r.status) for r in rows] == [(grade.NOTEBOOK_ROW, "error")]
    assert "lesson 02's notebook, not lesson 01's" in rows[0].detail
    assert grade.expected_lesson([other, other, _notebook(tmp_path / "01.ipynb", SETUP)]) == "02"


def test_worker_time_limit_and_exit_only_fail_their_own_exercise(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in [
        "def folder_counts_in_class_order(folder_counts):\n    while len(folder_counts) < 7:\n        pass\n"
        "    return [folder_counts.get(n, 0) for n in CLASS_NAMES]",  # hangs on the cases with a folder missing
        CHECK["folder_counts_in_class_order"],
        "def class_counts(labels):\n    import os\n    os._exit(3)", CHECK["class_counts"],
        "def twins(hashes):\n    return {}",  # the wrong name: no twins_between
        CHECK["twins_between"]]])
    exercises = grade.exercises_in(nb)
    rows, run, _ = grade_trust.grade_exercises(nb, "01", exercises, tmp_path / "worker", exercise_timeout=4)
    by = {e: (s, d) for e, s, d in rows}
    assert by["folder_counts_in_class_order"][0] == "fail" and "TimeoutError: ran past the grader's limit of 4 s" in by["folder_counts_in_class_order"][1]
    assert by["class_counts"][0] == "fail" and "the grader's worker process ended (exit status 3)" in by["class_counts"][1]
    assert by["twins_between"][0] == "not attempted"
    assert run.seconds < 60


def test_the_worker_blocks_reading_the_checks_and_writing_outside(tmp_path):
    target = tmp_path / "outside.txt"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in [
        "def class_counts(labels):\n"
        f"    open({str(ROOT / 'helpers' / 'checks' / 'lesson01.py')!r}).read()\n"
        "    return np.bincount(labels, minlength=7)", CHECK["class_counts"],
        f"def imbalance_ratio(counts):\n    open({str(target)!r}, 'w').write('x')\n    return float(max(counts) / min(counts))",
        "imbalance_ratio = helpers.checks.check(imbalance_ratio)"]])
    rows, run, _ = grade_trust.grade_exercises(nb, None, grade.exercises_in(nb), tmp_path / "worker")
    by = {e: (s, d) for e, s, d in rows}
    assert by["class_counts"][0] == "fail" and "PermissionError" in by["class_counts"][1]
    assert by["imbalance_ratio"][0] == "fail" and not target.exists()
    assert "the course's checks or solutions" in run.guard[0][0] and "outside its folder" in run.guard[1][0]


def _reference_answers_round_trip(name: str, folder: Path):
    """The reference's answers encoded and decoded as the worker and the grader do, then judged by run_check."""
    ex = EXERCISES[name]
    cases = ex.cases()
    outcome = grade_trust.Outcome()
    for j, args in enumerate(cases):
        got = ex.reference(*args)
        grade_answers.encode(got, folder, f"e0_c{j}")
        grade_answers.encode({i: a for i, a in enumerate(args) if grade_trust._is_keras(a)}, folder, f"e0_c{j}_args")
        outcome.cases.append({"exercise": 0, "case": j, "status": "answer"})
    return run_check(grade_trust.replayed(outcome, folder), name,
                     cases=grade_trust.judged_cases(name, cases, outcome, folder, 0))


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_exercise_answer_crosses_as_data(name, tmp_path):
    """Every registered exercise is gradable: its right answers, read back, pass its own check."""
    result = _reference_answers_round_trip(name, tmp_path)
    assert result.status == "pass", result.message


def test_decode_refuses_pickles_and_oversized_answers(tmp_path):
    grade_answers.encode({"a": np.arange(3)}, tmp_path, "ok")
    assert grade_answers.decode(tmp_path, "ok")["a"].tolist() == [0, 1, 2]
    with pytest.raises(grade_answers.Undecodable, match="more than the grader reads"):
        grade_answers.decode(tmp_path, "ok", max_bytes=10)
    np.savez(tmp_path / "evil.npz", a0=np.array([{"p": 1}], dtype=object))  # an object array needs pickle to load
    (tmp_path / "evil.json").write_text(json.dumps({"tree": {"t": "ndarray", "k": "a0"}, "npz": True, "files": []}))
    with pytest.raises(grade_answers.Undecodable, match="could not be read back"):
        grade_answers.decode(tmp_path, "evil")
    with pytest.raises(grade_answers.Unencodable):
        grade_answers.encode(lambda: 1, tmp_path, "f")
    assert helpers.checks.check is not None  # the grader's own checks are untouched by all of this
