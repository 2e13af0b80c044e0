"""Verdicts the graded code cannot forge: the student's functions called in a worker, judged here.

The trusted grader is the process that imported :mod:`helpers.checks` before any student code ran.
For one submitted notebook it:

1. finds each exercise's cell (the code cell defining ``def <exercise>`` nearest before its check
   cell) and the course's own import statements for that lesson (``lessons/NN_*.ipynb`` of this
   course, never the student's copy);
2. computes each exercise's cases (hidden ones included) and sends them, pickled, to a fresh
   worker process (:mod:`helpers.grade_worker`: its own folder, HOME and TMPDIR, a copy of
   ``helpers`` without :mod:`helpers.checks`, an audit hook; killed past ``exercise_timeout``
   seconds per exercise, then started again for the exercises after);
3. reads the answers back as data only (:mod:`helpers.grade_answers`: JSON, ``.npz`` with
   ``allow_pickle=False``, ``.keras`` in safe mode: nothing the worker sends is unpickled);
4. judges them with :func:`helpers.checks.core.run_check`, the function the notebook's own check
   calls, on the same case objects: a self-learner's PASS and the grader's agree, and the detail
   is the same text the student sees. Exercises with a ``compare`` are judged against the
   reference's answer computed here; those with a ``verify`` by their verify function, which also
   sees the Keras models the student's function was handed, as the worker left them (a model it
   trained), rebuilt from ``.keras`` files.

How each kind of answer crosses is listed in :mod:`helpers.grade_answers`; every exercise whose
answer is data, a Keras object, a History or a Figure is gradable this way (all of lessons 00-09).
Self-check answers (``self_check_answers = {...}``) come back as JSON and are scored here with
:func:`helpers.checks.quiz.score`.
"""

from __future__ import annotations

import ast
import atexit
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checks import EXERCISES
from .checks.core import run_check
from .grade_evidence import defines, tree_digest, wrapped_function

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COURSE_FILES = ("*.py", "*.ipynb")
#: The course's helpers/ and lessons/ as they were when the grader started, before any student code ran.
COURSE_DIGEST = {f"helpers/{k}": v for k, v in tree_digest(PROJECT_ROOT / "helpers").items()} | {
    f"lessons/{k}": v for k, v in tree_digest(PROJECT_ROOT / "lessons", ("*.ipynb",)).items()}
_LESSON_START = re.compile(r"helpers\.start\(\s*[\"'](\d{2})\b")
_LESSON_TITLE = re.compile(r"^#\s*(\d{2})\s*·", re.MULTILINE)
_SNAPSHOT: dict[str, Path] = {}


class CourseChanged(RuntimeError):
    """The course's own files changed on disk since the grader started: grades would not be trustworthy."""


def course_changes() -> list[str]:
    """What differs between the course's files now and :data:`COURSE_DIGEST` (``[]`` when nothing)."""
    from .grade_evidence import digest_changes

    now = {f"helpers/{k}": v for k, v in tree_digest(PROJECT_ROOT / "helpers").items()} | {
        f"lessons/{k}": v for k, v in tree_digest(PROJECT_ROOT / "lessons", ("*.ipynb",)).items()}
    return digest_changes(COURSE_DIGEST, now)


def course_copy(with_checks: bool) -> Path:
    """A folder holding a copy of the course's ``helpers`` (made once per process, checked against
    :data:`COURSE_DIGEST`). ``with_checks=False``: without :mod:`helpers.checks`, for the worker.

    Raises:
        CourseChanged: the course's files differ from when the grader started.
    """
    key = "kernel" if with_checks else "worker"
    if key not in _SNAPSHOT:
        changed = course_changes()
        if changed:
            raise CourseChanged("the course's own files changed since grading began (" + ", ".join(changed[:5])
                                + "): restore them (git checkout helpers lessons) and grade again")
        root = Path(tempfile.mkdtemp(prefix=f"fer-grade-{key}-"))
        atexit.register(shutil.rmtree, root, True)
        ignore = shutil.ignore_patterns("__pycache__", *(() if with_checks else ("checks",)))
        shutil.copytree(PROJECT_ROOT / "helpers", root / "helpers", ignore=ignore)
        if with_checks:
            os.symlink(PROJECT_ROOT / "data", root / "data")
        else:
            init = root / "helpers" / "__init__.py"
            init.write_text(re.sub(r"^from \. import checks\b.*$", "", init.read_text(encoding="utf-8"), flags=re.MULTILINE),
                            encoding="utf-8")
        _SNAPSHOT[key] = root
    return _SNAPSHOT[key]


def lesson_of(nb) -> str | None:
    """The lesson ``"NN"`` a notebook says it is: ``helpers.start("NN · ...")``, else its ``# NN ·`` title."""
    for cell in nb.cells:
        found = _LESSON_START.search(cell.source) if cell.cell_type == "code" else None
        if found:
            return found.group(1)
    for cell in nb.cells:
        found = _LESSON_TITLE.search(cell.source) if cell.cell_type == "markdown" else None
        if found:
            return found.group(1)
    return None


def lesson_of_exercise(name: str) -> str | None:
    """``"01"`` for an exercise registered in :mod:`helpers.checks.lesson01`."""
    found = re.search(r"lesson(\d{2})$", EXERCISES[name].reference.__module__) if name in EXERCISES else None
    return found.group(1) if found else None


def pristine_lesson(lesson: str | None):
    """The course's own ``lessons/NN_*.ipynb`` (an ``nbformat`` node), or ``None`` when there is none."""
    import nbformat

    paths = sorted((PROJECT_ROOT / "lessons").glob(f"{lesson}_*.ipynb")) if lesson else []
    return nbformat.read(paths[0], as_version=4) if paths else None


def lesson_imports(pristine) -> list[str]:
    """The top-level import statements of a lesson's code cells (none touching :mod:`helpers.checks`), in order."""
    from .grade_evidence import parse

    out: list[str] = []
    for cell in pristine.cells if pristine is not None else []:
        tree = parse(cell.source) if cell.cell_type == "code" else None
        for node in tree.body if tree is not None else []:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                text = ast.unparse(node)
                if "checks" not in text and text not in out:
                    out.append(text)
    return out or ["import numpy as np", "import helpers", "from helpers import CLASS_NAMES"]


def exercise_cell(nb, check_index: int, name: str) -> str | None:
    """The source of the code cell defining ``def name`` nearest before cell ``check_index`` (None if none)."""
    for cell in reversed(nb.cells[:check_index]):
        if cell.cell_type == "code" and defines(cell.source, name):
            return cell.source
    return None


def quiz_cell(nb) -> str | None:
    """The last code cell assigning ``self_check_answers`` (the lesson's self-check answers), or None."""
    cells = [c.source for c in nb.cells if c.cell_type == "code" and re.search(r"^self_check_answers\s*=", c.source, re.MULTILINE)]
    return _answers_only(cells[-1]) if cells else None


def _answers_only(source: str) -> str:
    """The cell's top-level ``self_check_answers = ...`` statements alone (not its ``self_check`` call, which
    needs the checks the worker has no access to); the whole cell when it does not parse."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    kept = [node for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
        isinstance(t, ast.Name) and t.id == "self_check_answers" for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))]
    return "\n".join(ast.get_source_segment(source, node) for node in kept) if kept else source


def wrapped_functions() -> dict[str, tuple[str, str]]:
    """Exercise -> the course function its reference answer wraps (see :func:`helpers.grade_evidence.wrapped_function`)."""
    import inspect

    out = {}
    for name, ex in EXERCISES.items():
        try:
            found = wrapped_function(inspect.getsource(ex.reference))
        except (OSError, TypeError):
            found = None
        if found:
            out[name] = found
    return out


@dataclass
class Outcome:
    """What the worker reported for one exercise: per case a message, or why it stopped."""

    cases: list[dict] = field(default_factory=list)
    problem: str = ""  # the exercise cell raised, or defines no such function
    stopped: str = ""  # the worker ran out of time or ended during this exercise
    seconds: float = 0.0


@dataclass
class WorkerRun:
    """All the worker reported for one notebook; ``seconds`` is the wall time of the worker step."""

    outcomes: list[Outcome]
    guard: dict[int, list[str]] = field(default_factory=dict)  # exercise index (-1: before any) -> what was blocked
    quiz: dict | None = None
    quiz_problem: str = ""
    seconds: float = 0.0


def _job(exercises: list[tuple[str, str | None]], statements: list[str], quiz: str | None) -> tuple[dict, list[list[tuple]]]:
    """The worker's job (cases pickled by value: they may hold the checks' own functions) and the same cases here."""
    import importlib

    import cloudpickle

    checks_modules = [importlib.import_module(m) for m in sorted(sys.modules) if m.startswith("helpers.checks.")]
    entries, cases = [], []
    for name, cell in exercises:
        ex = EXERCISES[name]
        these = ex.cases()
        for module in checks_modules:
            cloudpickle.register_pickle_by_value(module)
        try:
            blob = cloudpickle.dumps(these)
        finally:
            for module in checks_modules:
                cloudpickle.unregister_pickle_by_value(module)
        entries.append({"name": name, "statements": statements, "cell": cell or "", "cases": blob,
                        "return_args": ex.verify is not None})
        cases.append(these)
    return {"exercises": entries, "quiz": {"cell": quiz} if quiz else None, "first": 0, "preload_keras": False}, cases


def _forbidden() -> list[str]:
    roots = [PROJECT_ROOT / "helpers" / "checks", PROJECT_ROOT / "solutions", course_copy(True) / "helpers" / "checks"]
    return [os.path.realpath(r) for r in roots]


def _worker_env(folder: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "KERAS_BACKEND", "FER_MODE", "FER_QUICK", "CUDA_VISIBLE_DEVICES")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    for name in ("home", "tmp", "mpl", "out"):
        (folder / name).mkdir(exist_ok=True)
    env.update(HOME=str(folder / "home"), TMPDIR=str(folder / "tmp"), MPLCONFIGDIR=str(folder / "mpl"),
               MPLBACKEND="agg", TF_CPP_MIN_LOG_LEVEL="3", KERAS_HOME=str(folder / "home" / ".keras"))
    return env


def run_worker(job: dict, folder: Path, exercise_timeout: float = 120.0, start_timeout: float = 180.0) -> WorkerRun:
    """Run ``job`` in worker processes inside ``folder``; one is killed and the next started past a time limit.

    ``start_timeout``: seconds for a worker to import its libraries and begin; ``exercise_timeout``:
    seconds for one exercise (its cell and every case).
    """
    import pickle

    started = time.monotonic()
    n = len(job["exercises"])
    run = WorkerRun([Outcome() for _ in range(n)])
    (folder / "guard.json").write_text(json.dumps(_forbidden()), encoding="utf-8")
    script = course_copy(False) / "helpers" / "grade_worker.py"
    env = _worker_env(folder)
    first = 0
    while first <= n:
        (folder / "job.pkl").write_bytes(pickle.dumps({**job, "first": first}))
        read, write = os.pipe()
        process = subprocess.Popen([sys.executable, "-I", "-B", str(script), str(folder), str(write)], cwd=folder, env=env,
                                   pass_fds=(write,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(write)
        current, deadline, begun, ended = first - 1, time.monotonic() + start_timeout, time.monotonic(), False
        buffer = b""
        try:
            while True:
                left = deadline - time.monotonic()
                ready = select.select([read], [], [], max(0.0, left))[0] if left > 0 else []
                if not ready:
                    what = (f"ran past the grader's limit of {exercise_timeout:g} s for one exercise" if current >= first
                            else f"the grader's worker did not start within {start_timeout:g} s")
                    if 0 <= current < n:
                        run.outcomes[current].stopped = what
                    break
                chunk = os.read(read, 1 << 20)
                if not chunk:
                    code = process.wait(timeout=30)
                    if not ended and 0 <= current < n:
                        run.outcomes[current].stopped = f"the grader's worker process ended (exit status {code})"
                    break
                buffer += chunk
                if len(buffer) > 8 << 20:
                    buffer = buffer[-(1 << 20):]
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    try:
                        message = json.loads(line)
                        event = message["event"]
                    except (ValueError, KeyError, TypeError):
                        continue
                    if event == "begin" and int(message.get("exercise", -1)) == current + 1 <= n:
                        if 0 <= current < n:
                            run.outcomes[current].seconds = time.monotonic() - begun
                        current, begun = current + 1, time.monotonic()
                        deadline = begun + exercise_timeout
                    elif event == "case" and message.get("exercise") == current and 0 <= current < n:
                        if int(message.get("case", -1)) == len(run.outcomes[current].cases):
                            run.outcomes[current].cases.append(message)
                    elif event == "cell" and message.get("exercise") == current and 0 <= current < n:
                        run.outcomes[current].problem = str(message.get("problem", ""))[:500]
                    elif event == "guard":
                        run.guard.setdefault(current, []).append(str(message.get("what", ""))[:300])
                    elif event == "quiz" and current == n:
                        if "stem" in message:
                            run.quiz = {"stem": "quiz"}
                        else:
                            run.quiz_problem = str(message.get("problem", ""))[:300]
                    elif event == "end":
                        ended = True
        finally:
            os.close(read)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if 0 <= current < n:
            run.outcomes[current].seconds = run.outcomes[current].seconds or time.monotonic() - begun
        if ended:
            break
        if current < first:  # it never began: the next worker would fare no better
            for outcome in run.outcomes[first:]:
                outcome.stopped = outcome.stopped or "the grader's worker did not start"
            break
        first = current + 1  # go on after the exercise (or the self-check) that stopped it
    run.seconds = time.monotonic() - started
    return run


class _Raised(Exception):
    pass


def _raised(kind: str, message: str) -> Exception:
    """An exception that prints as ``kind: message`` (the student's exception, by its name only)."""
    if kind == "NotImplementedError":
        return NotImplementedError(message)
    cls = type(re.sub(r"\W", "", kind)[:60] or "Exception", (_Raised,), {"__module__": "builtins"})
    return cls(message)


def replayed(outcome: Outcome, out: Path):
    """A stand-in for the student's function that answers, case by case, what the worker's call returned."""
    from .grade_answers import Undecodable, decode

    calls = iter(range(10**6))

    def answer(*args):
        j = next(calls)
        if j >= len(outcome.cases):
            raise _raised("TimeoutError" if "limit" in outcome.stopped else "WorkerEnded",
                          outcome.stopped or "the grader's worker stopped before this case")
        message = outcome.cases[j]
        status = message.get("status")
        if status == "not attempted":
            raise NotImplementedError
        if status == "raised":
            raise _raised(str(message.get("type", "Exception")), str(message.get("message", "")))
        if status == "unencodable":
            raise _raised("UnreadableAnswer", f"it returned {message.get('message', 'something that is not data')}")
        try:
            return decode(out, f"e{message['exercise']}_c{j}")
        except Undecodable as exc:
            raise _raised("UnreadableAnswer", str(exc)) from None

    return answer


def _is_keras(value: Any) -> bool:
    return (type(value).__module__ or "").startswith("keras")


def judged_cases(name: str, cases: list[tuple], outcome: Outcome, out: Path, k: int) -> list[tuple]:
    """The cases as the check's ``verify`` must see them: the Keras objects in them as the worker left them."""
    from .grade_answers import Undecodable, decode

    if EXERCISES[name].verify is None:
        return cases
    judged = []
    for j, args in enumerate(cases):
        after = {}
        if j < len(outcome.cases) and outcome.cases[j].get("status") == "answer":
            try:
                after = decode(out, f"e{k}_c{j}_args")
            except Undecodable:
                after = {}
        judged.append(tuple(after.get(i, a) if _is_keras(a) else a for i, a in enumerate(args)))
    return judged


def verdict(name: str, cases: list[tuple], outcome: Outcome, out: Path, k: int) -> tuple[str, str]:
    """``(status, detail)`` of one exercise from what the worker reported, by the notebook check's own rules."""
    if outcome.problem.startswith("the cell defines no function"):
        return "not attempted", f"{name}: not attempted (no code cell before its check cell defines {name})"
    if outcome.problem:
        return "error", f"its exercise cell raised {outcome.problem} when the grader ran it on its own"
    if not outcome.cases and not outcome.stopped:
        return "not attempted", f"{name}: no answer came back from the grader's worker"
    result = run_check(replayed(outcome, out), name, cases=judged_cases(name, cases, outcome, out, k))
    return result.status, result.message


def quiz_rows(lesson: str | None, run: WorkerRun, out: Path) -> list[tuple[str, str, str]]:
    """``("self-check N", status, detail)`` per question, scored here from the answers the worker sent back."""
    from .checks.quiz import QUIZZES, score
    from .grade_answers import Undecodable, decode

    if lesson not in QUIZZES:
        return []
    answers: Any = {}
    if run.quiz is not None:
        try:
            answers = decode(out, "quiz")
        except Undecodable as exc:
            return [("self-check", "error", f"the self-check answers could not be read back: {exc}")]
    elif run.quiz_problem:
        return [("self-check", "error", f"the self-check answers cell {run.quiz_problem}")]
    return [(f"self-check {number}", status, detail) for number, status, detail in score(lesson, answers)]


def grade_exercises(nb, lesson: str | None, exercises: list[tuple[int, str]], folder: Path,
                    exercise_timeout: float = 120.0) -> tuple[list[tuple[str, str, str]], WorkerRun, dict[str, str | None]]:
    """Judge every exercise of a submitted notebook (``nbformat`` node) outside the student's kernel.

    ``exercises``: ``(check cell index, name)``; ``lesson``: "NN", whose course notebook gives the
    import statements (each exercise's own lesson when ``None``). Returns ``(rows, run, cells)``:
    ``(exercise, status, detail)`` per exercise then per self-check question; the worker's report;
    and each exercise's cell source (``None``: no cell defines it).
    """
    exercises = [(i, e) for i, e in exercises if e in EXERCISES]
    cells = {e: exercise_cell(nb, i, e) for i, e in exercises}
    imports: dict[str | None, list[str]] = {}
    for _, e in exercises:
        key = lesson or lesson_of_exercise(e)
        if key not in imports:
            imports[key] = lesson_imports(pristine_lesson(key))
    quiz = quiz_cell(nb) if lesson else None
    folder.mkdir(parents=True, exist_ok=True)
    job, cases = _job([(e, cells[e]) for _, e in exercises], [], quiz)
    for entry, (_, e) in zip(job["exercises"], exercises):
        entry["statements"] = imports[lesson or lesson_of_exercise(e)]
    job["preload_keras"] = any(b"keras" in entry["cases"] or re.search(r"\bkeras\b|\btf\.|tensorflow|helpers\.(models|training)",
                                                                        entry["cell"]) for entry in job["exercises"])
    run = run_worker(job, folder, exercise_timeout)
    out = folder / "out"
    rows = [(e, *verdict(e, cases[k], run.outcomes[k], out, k)) for k, (_, e) in enumerate(exercises)]
    return rows + quiz_rows(lesson, run, out), run, cells
