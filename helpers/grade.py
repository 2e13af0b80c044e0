"""Grade a class's notebooks with the course's own checks: ``python -m helpers.grade``.

Each notebook is executed with nbclient in a temporary working folder of its own (a copy of the
notebook; the kernel imports a copy of this course's ``helpers`` and reports what it writes outside
its folder, see :mod:`helpers.grade_evidence`), under a time limit for the whole notebook, in quick
or workshop mode. That run says whether the notebook runs. The verdicts come from outside the
kernel (:mod:`helpers.grade_trust`): each exercise function is called on the hidden cases in a
worker process without :mod:`helpers.checks`, and its answers are judged here by the notebook
check's own rules. One CSV row per student and exercise (and self-check question)::

    student,notebook,exercise,status,detail

``status`` is ``pass``, ``fail``, ``not attempted``, ``error`` or ``flagged``. An exercise whose
check cell exists but raised or never ran (a crash before it, the time limit) gets ``error``; a
notebook that crashes or runs past its limit gets one more row, exercise ``(notebook)``, saying
why. A submission that touched the checks (changed check cells, rebinding course code, writing into
the course, calling the reference's own function) is ``flagged``: the detail says what was seen and
the verdict. A broken notebook never stops the grader. Example::

    python -m helpers.grade submissions/*/01_loading_fer2013.ipynb --csv grades.csv --timeout 600

Cells that raise do not stop the notebook (as in nbgrader): later exercises are still graded.

Containment: each notebook is graded in a process of its own (``--jobs`` at a time, see
:func:`helpers.grade_report.run_isolated`); the submitted file is only read, its size checked
first; output past :data:`helpers.grade_run.OUTPUT_LIMIT_BYTES` is dropped as it arrives and stops the notebook; a
kernel that dies is named by its exit status or signal. The student's name, the summary per
exercise, its figure and ``--feedback`` files come from :mod:`helpers.grade_report`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .grade_run import NOTEBOOK_LIMIT_BYTES, OUTPUT_LIMIT_BYTES, OutputLimit, capped_client, kernel_death, read_submission

STATUSES = ("pass", "fail", "not attempted", "error", "flagged")
MODES = ("quick", "workshop", "full")
NOTEBOOK_ROW = "(notebook)"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
_CHECK_CALL = re.compile(r"(?:\b([A-Za-z_]\w*)\s*=\s*)?[\w.]*\bcheck\(\s*([A-Za-z_]\w*)")


@dataclass
class Row:
    """One line of the grade table."""

    notebook: str
    exercise: str
    status: str
    detail: str


@dataclass
class Execution:
    """What running a notebook gave: the executed notebook, the first problem, the time taken (s)."""

    notebook: object
    problem: str = ""
    seconds: float = 0.0
    failed_cells: dict[int, str] = field(default_factory=dict)


def exercises_in(nb) -> list[tuple[int, str]]:
    """``(cell index, exercise name)`` for every check cell of a notebook (an ``nbformat`` node).

    A check cell reads ``name = helpers.checks.check(name)``; when the two names differ (a typo),
    the one that is a registered exercise wins.
    """
    from .checks import EXERCISES

    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for target, argument in _CHECK_CALL.findall(cell.source):
                found.append((index, target if target in EXERCISES and argument not in EXERCISES else argument))
    return found


def mode_environment(mode: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default ``os.environ``) set up for ``mode``: ``FER_MODE`` and ``FER_QUICK``.

    The kernel also gets this course on its ``PYTHONPATH`` so that a notebook copied elsewhere
    still imports ``helpers``.

    Raises:
        ValueError: ``mode`` is not one of :data:`MODES`.
    """
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    env = dict(os.environ if base is None else base)
    env["FER_MODE"] = mode
    if mode == "quick":
        env["FER_QUICK"] = "1"
    else:
        env.pop("FER_QUICK", None)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT)] + [p for p in [env.get("PYTHONPATH", "")] if p])
    env.setdefault("MPLBACKEND", "agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def cell_label(nb, index: int) -> str:
    """How a person finds cell ``index`` (0-based): ``cell 3 (`while True:`)``, counting from 1."""
    first = next((line.strip() for line in nb.cells[index].source.splitlines() if line.strip()), "")
    return f"cell {index + 1} (`{first[:40]}`)" if first else f"cell {index + 1}"


def _error_text(cell) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
    return ""


def execute_notebook(path: str | os.PathLike, workdir: Path, timeout: float, mode: str = "quick",
                     env: dict[str, str] | None = None, kernel_name: str = "python3",
                     output_limit: int = OUTPUT_LIMIT_BYTES) -> Execution:
    """Run a copy of the notebook at ``path`` inside ``workdir``, ``timeout`` seconds for all cells.

    The submitted file is only read (size first, see :func:`read_submission`); the kernel works in
    ``workdir``, beside a copy of it. The limit includes the kernel's start. Cells that raise (``sys.exit`` included: IPython
    turns it into an error) do not stop the run; their errors are in ``failed_cells`` (0-based
    cell index -> ``"Name: message"``; :func:`cell_label` names a cell for people). What ends the
    run early is described in ``problem``: a time-out, a kernel that died (its exit status or
    signal), more than ``output_limit`` characters of output (dropped as they arrive; the kernel is
    interrupted), a file that is not a gradable notebook, a kernel that does not start. The
    kernel's own stdout/stderr (not the cells' outputs) are discarded. Never raises for a broken
    notebook; raises ``OSError`` only when the file cannot be read or copied.
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    started = time.monotonic()
    nb, reason = read_submission(path)
    if nb is None:
        return Execution(None, reason, time.monotonic() - started)
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, workdir / Path(path).name)  # beside the kernel, as in the student's folder
    result = Execution(nb)
    client = capped_client(nb, output_limit, workdir.parent / "kernel", timeout=timeout, kernel_name=kernel_name, allow_errors=True,
                            shutdown_kernel="immediate", resources={"metadata": {"path": str(workdir)}})
    index = -1
    kernel_env = {**mode_environment(mode, env), "FER_RUNS_DIR": str(workdir / "runs")}  # each notebook's runs apart
    try:
        with client.setup_kernel(env=kernel_env, cwd=str(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            try:
                for index, cell in enumerate(nb.cells):
                    left = timeout - (time.monotonic() - started)
                    if left <= 0:
                        raise CellTimeoutError(f"no time left before cell {index}")
                    client.timeout = max(1, int(left))
                    client.execute_cell(cell, index)
                    if client.capped_cell is not None:
                        raise OutputLimit()
                    if cell.cell_type == "code" and _error_text(cell):
                        result.failed_cells[index] = _error_text(cell)
            except CellTimeoutError:
                result.problem = f"ran past its time limit of {timeout:g} s (in {cell_label(nb, index)})"
            except DeadKernelError:
                result.problem = f"stopped: {kernel_death(client.km)} in {cell_label(nb, index)}"
            except OutputLimit:
                pass
            if client.capped_cell is not None:  # the flood first, whatever ended the run after it
                result.problem = (f"printed more than {output_limit / 1e6:g} MB of output in {cell_label(nb, client.capped_cell)}; "
                                  "the grader dropped the rest and stopped the notebook there"
                                  + (f" (then it {result.problem})" if result.problem else ""))
    except Exception as exc:  # no such kernel, a kernel that does not start, a cell it cannot run, ...
        where = f"stopped in {cell_label(nb, index)}" if index >= 0 else "could not start its kernel"
        result.problem = result.problem or f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
    result.seconds = time.monotonic() - started
    return result


def _check_cell_ran(run: Execution, cell_index: int) -> tuple[bool, str]:
    """Whether the kernel ran a check cell without an error; if not, why (the ``error`` detail)."""
    if cell_index in run.failed_cells:
        return False, f"its check cell raised {run.failed_cells[cell_index]}"
    cells = run.notebook.cells if run.notebook is not None else []
    ran = cell_index < len(cells) and cells[cell_index].get("execution_count") is not None
    if not ran and run.problem:
        return False, f"not checked: the notebook {run.problem}"
    if not ran:
        return False, "its check cell did not run"
    return True, ""


def _flagged(status: str, detail: str, evidence: list[str]) -> tuple[str, str]:
    if not evidence:
        return status, detail
    return "flagged", f"flagged: {'; '.join(evidence)}. The grader's verdict, flag aside: {status}: {detail}"


def _kernel_environment(tmp: Path, workdir: Path, listener_address: Path, kernel_course: Path) -> dict[str, str]:
    """The graded kernel's environment: the evidence hook (``sitecustomize``), its own copy of the course."""
    from .grade_evidence import kernel_site

    home = Path.home()
    allowed = [workdir, home / ".keras", home / ".cache", home / ".config" / "matplotlib", home / ".ipython",
               home / ".local" / "share" / "jupyter", Path(os.environ.get("FER_CACHE_DIR") or home / ".cache" / "fer-course"),
               Path(os.devnull).parent]
    blocked = [PROJECT_ROOT, kernel_course, tmp]
    site = kernel_site(tmp / "site")
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    return dict(os.environ, FER_CHECK_LOG=str(workdir / "checks.jsonl"),  # the kernel's own; never read for grades
                PYTHONPATH=os.pathsep.join([str(site)] + [p for p in [os.environ.get("PYTHONPATH", "")] if p]),
                TMPDIR=str(workdir / "tmp"), FER_GRADE_EVIDENCE=str(listener_address), FER_GRADE_COURSE=str(kernel_course),
                FER_GRADE_ALLOWED=json.dumps([os.path.realpath(p) for p in allowed]),
                FER_GRADE_BLOCKED=json.dumps([os.path.realpath(p) for p in blocked]))


def grade_notebook(path: str | os.PathLike, timeout: float = 600, mode: str = "quick",
                   kernel_name: str = "python3", *, lesson: str | None = None,
                   exercise_timeout: float = 120) -> tuple[list[Row], float]:
    """Execute one notebook, then grade its exercises outside its kernel.

    The kernel's run says whether the notebook runs (a check cell that raised or never ran is an
    ``error``); every verdict comes from :func:`helpers.grade_trust.grade_exercises` (the student's
    functions called in a worker process, judged here), never from what the kernel printed or wrote.
    Tamper evidence (:mod:`helpers.grade_evidence`) turns a row into ``flagged``, its detail saying
    what was seen and the verdict. ``lesson`` ("NN"): a notebook of another lesson gets only a
    ``(notebook)`` row saying so. ``exercise_timeout``: seconds for one exercise in the worker.

    Returns:
        ``(rows, seconds)``: one :class:`Row` per exercise of the lesson (in notebook order), one per
        self-check question (``self-check N``), plus a ``(notebook)`` row when it crashed, a cell
        raised, it timed out or it is flagged as a whole; and the wall time it took.
    """
    from . import grade_trust as trust
    from .grade_evidence import EvidenceListener, digest_changes, static_evidence, tree_digest

    name, started = str(path), time.monotonic()
    try:
        submitted, _ = read_submission(path)  # its size first; None when it is not a gradable notebook
    except OSError:  # execute_notebook says why
        submitted = None
    said = trust.lesson_of(submitted) if submitted is not None else None
    if lesson and said and said != lesson:
        return [Row(name, NOTEBOOK_ROW, "error", f"this is lesson {said}'s notebook, not lesson {lesson}'s: grade it with lesson {said}")], 0.0
    pristine = trust.pristine_lesson(said)
    with tempfile.TemporaryDirectory(prefix="fer-grade-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            kernel_course = tmp / "course"
            shutil.copytree(trust.course_copy(True) / "helpers", kernel_course / "helpers")
            os.symlink(PROJECT_ROOT / "data", kernel_course / "data")
        except trust.CourseChanged as exc:
            return [Row(name, NOTEBOOK_ROW, "error", f"not graded: {exc}")], 0.0
        copy_before = tree_digest(kernel_course / "helpers")
        listener = EvidenceListener(tmp / "evidence.sock")
        workdir = tmp / "work"
        workdir.mkdir()
        try:
            run = execute_notebook(path, workdir, timeout, mode, _kernel_environment(tmp, workdir, tmp / "evidence.sock", kernel_course),
                                   kernel_name)
        except OSError as exc:
            listener.close()
            return [Row(name, NOTEBOOK_ROW, "error", f"the notebook could not be copied: {exc}")], 0.0
        seen = listener.close()
        if not listener.connected and run.notebook is not None and not run.problem:
            seen.append("its kernel never reported to the grader (the evidence hook did not run)")
        seen += [f"{c} in its copy of the course's helpers" for c in digest_changes(copy_before, tree_digest(kernel_course / "helpers"))]
        seen += [f"{c} in the course itself" for c in trust.course_changes()]
        nb = submitted if submitted is not None else run.notebook
        expected = exercises_in(pristine if pristine is not None else nb) if nb is not None else []
        if nb is None:
            graded, worker, cells = [], None, {}
        else:
            graded, worker, cells = trust.grade_exercises(nb, said, exercises_in(nb) if pristine is None else
                                                          _in_submission(nb, expected), tmp / "worker", exercise_timeout)
    if nb is not None:
        wide, per_exercise = static_evidence(nb, pristine, trust.wrapped_functions(), {e: c for e, c in cells.items() if c})
    else:
        wide, per_exercise = [], {}
    wide = [f"the kernel {s}" for s in seen] + wide + (
        [f"the graded function {w}" for w in worker.guard.get(-1, [])] if worker is not None else [])
    rows = []
    check_index = dict((e, i) for i, e in exercises_in(nb)) if nb is not None else {}
    for k, (exercise, status, detail) in enumerate(graded):
        if exercise in check_index:
            ran, why = _check_cell_ran(run, check_index[exercise])
            if not ran:
                status, detail = "error", f"{why} (the grader's verdict on the function: {status})"
        own = per_exercise.get(exercise, []) + [f"the graded function {w}" for w in (worker.guard.get(k, []) if worker else [])]
        rows.append(Row(name, exercise, *_flagged(status, detail, own + wide)))
    problems = ([f"the notebook {run.problem}"] if run.problem else []) + [
        f"{cell_label(run.notebook, i)} raised {error}" for i, error in run.failed_cells.items()]
    if problems or wide:
        rows.append(Row(name, NOTEBOOK_ROW, "error" if problems else "flagged",
                        "; ".join(problems + ([f"flagged: {'; '.join(wide)}"] if wide else []))))
    return rows, time.monotonic() - started


def _in_submission(nb, expected: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The lesson's exercises, each at its check cell in the submission (at the end when that cell is gone)."""
    found = {e: i for i, e in exercises_in(nb)}
    return [(found.get(e, len(nb.cells)), e) for _, e in expected]


def expected_lesson(paths: list[str | os.PathLike]) -> str | None:
    """The lesson most of these notebooks say they are ("NN"; None when none says), for ``--lesson``'s default."""
    from collections import Counter

    from .grade_trust import lesson_of

    said = []
    for path in paths:
        try:
            nb, _ = read_submission(path)
        except OSError:
            continue
        if nb is not None:
            said.append(lesson_of(nb))
    counts = Counter(s for s in said if s)
    return counts.most_common(1)[0][0] if counts else None


def summary(rows: list[Row], seconds: float) -> str:
    """One line per notebook: its student, counts per status (those that occur), the time taken, and
    the first whole-notebook problem on a second line."""
    from .grade_report import STATUSES as ORDER, student_name

    graded = [r for r in rows if not r.exercise.startswith("(")]
    counts = Counter(r.status for r in graded)
    shown = [s for s in ORDER if counts[s] or s in STATUSES] + sorted(set(counts) - set(ORDER))
    notebook = rows[0].notebook if rows else "?"
    line = (f"{notebook} [{student_name(notebook)[0]}]: " + ", ".join(f"{counts[s]} {s}" for s in shown)
            + f" ({seconds:.0f} s)")
    trouble = [r.detail for r in rows if r.exercise.startswith("(")]
    return line + (f"\n  ERROR: {trouble[0]}" if trouble else "")


def write_csv(rows: list[Row], out: str | os.PathLike) -> Path:
    """Write the rows with the header ``student, notebook, exercise, status, detail``.

    ``student`` comes from each notebook's path (:func:`helpers.grade_report.student_name`).
    """
    from .grade_report import rows_frame

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows_frame(rows).to_csv(out, index=False, encoding="utf-8")
    return out


NO_EXERCISE = "no exercise's check cell was found in it and nothing went wrong: is it one of the course's lesson notebooks?"
WALL_GUARD = (2.0, 60.0)  # a worker is killed after 2 x --timeout + 60 s, whatever it is doing


def _grade_in_worker(path: str, timeout: float, mode: str, kernel_name: str, options: dict) -> tuple[list[tuple], float]:
    """What a worker process runs: grade one notebook; its rows as tuples (they cross a pipe) and the seconds."""
    try:
        rows, seconds = grade_notebook(path, timeout, mode, kernel_name, **options)
    except Exception as exc:  # the grader's own failure on this notebook: still one row
        rows, seconds = [Row(path, NOTEBOOK_ROW, "error", f"the grader failed on it: {type(exc).__name__}: {exc}")], 0.0
    return [dataclasses.astuple(r) for r in rows], seconds


def grade_all(paths: list[str], timeout: float, mode: str = "quick", kernel_name: str = "python3", jobs: int = 1,
              on_done=None, **options) -> list[tuple[list[Row], float]]:
    """Grade each notebook in a process of its own, ``jobs`` at a time; ``(rows, seconds)`` in the order of ``paths``.

    A worker that dies (the grader's own crash) or outlives ``2 x timeout + 60`` seconds (it and
    its kernel are killed) gives that notebook one ``(notebook)`` error row; the others go on.
    ``on_done(rows, seconds)`` is called as each notebook finishes (progress, summaries); ``options``
    go to :func:`grade_notebook` as keyword arguments.
    """
    from .grade_report import run_isolated

    guard = WALL_GUARD[0] * timeout + WALL_GUARD[1]

    def finished(index: int, result) -> tuple[list[Row], float]:
        if isinstance(result, str):  # what went wrong with the worker itself
            return [Row(str(paths[index]), NOTEBOOK_ROW, "error", result)], guard
        return [Row(*t) for t in result[0]], result[1]

    tasks = [(str(path), timeout, mode, kernel_name, options) for path in paths]
    done = (lambda index, result: on_done(*finished(index, result))) if on_done else None
    return [finished(i, r) for i, r in enumerate(run_isolated(_grade_in_worker, tasks, jobs, guard, done))]


def submissions(arguments: list[str]) -> list[str]:
    """The notebooks named on the command line; a folder stands for every ``.ipynb`` below it
    (checkpoints left out), sorted."""
    found = []
    for argument in arguments:
        if Path(argument).is_dir():
            found += sorted(str(p) for p in Path(argument).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(argument)
    return found


def duplicate_rows(paths: list[str]) -> list[Row]:
    """A ``(student)`` error row for each submission whose student has another one of the same lesson."""
    from .grade_report import duplicates

    rows = []
    for (student, lesson), found in duplicates(paths).items():
        for path in found:
            others = ", ".join(p for p in found if p != path)
            rows.append(Row(path, "(student)", "error", f"{student} has {len(found)} submissions of {lesson}: this one and "
                            f"{others}; all are graded, none gets feedback: rename the folder or file of the one that "
                            "is someone else's, or remove the extra ones, and grade again"))
    return rows


def _parser() -> argparse.ArgumentParser:
    from .grade_report import NAME_RULE

    parser = argparse.ArgumentParser(
        prog="python -m helpers.grade", description=__doc__.split("\n\n")[0],
        epilog=f"Students: {NAME_RULE}. Beside the CSV: NAME_summary.csv (per exercise) and NAME_summary.png (its figure). "
               f"Limits: --timeout per notebook; {OUTPUT_LIMIT_BYTES / 1e6:g} MB of output kept per notebook (then it is "
               f"stopped); files over {NOTEBOOK_LIMIT_BYTES / 1e6:g} MB refused; a worker is killed after "
               f"{WALL_GUARD[0]:g} x --timeout + {WALL_GUARD[1]:g} s.")
    parser.add_argument("notebooks", nargs="+", help="submitted .ipynb files, or folders of them (searched below)")
    parser.add_argument("--csv", required=True, help="where to write the grade table (one row per student and exercise)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per notebook, all cells together (default 600)")
    parser.add_argument("--mode", choices=MODES[:2], default="quick", help="quick (default) or workshop")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at the same time, each in its own process (default 1)")
    parser.add_argument("--feedback", metavar="DIR", help="write DIR/<student>.md: each student's statuses and what failed")
    parser.add_argument("--lesson", help="the lesson graded, NN (default: the one most notebooks say they are); "
                                         "a notebook of another lesson gets one (notebook) row saying so")
    return parser


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def main(argv: list[str] | None = None) -> int:
    """Command line: grade every notebook given, write the CSV, its summary and figure, and feedback.

    Prints a line per notebook as it finishes (a progress bar on stderr), then the summary per
    exercise. Exit status 0 when every notebook was graded (whatever the grades), 2 on bad arguments.
    """
    from tqdm import tqdm

    from . import grade_report

    parser = _parser()
    args = parser.parse_args(argv)
    notebooks = submissions(args.notebooks)
    missing = [n for n in notebooks if not Path(n).is_file()]
    if missing or not notebooks:
        parser.error(f"not found: {', '.join(missing) or 'no .ipynb in ' + ', '.join(args.notebooks)}")
    if args.jobs < 1 or args.timeout <= 0:
        parser.error("--jobs must be at least 1 and --timeout positive")
    print(f"grading {_count(len(notebooks), 'notebook')}, {args.jobs} at a time ({args.mode} mode, limit {args.timeout:g} s each)", flush=True)
    with tqdm(total=len(notebooks), unit="notebook", file=sys.stderr, dynamic_ncols=True) as bar:
        def done(rows: list[Row], seconds: float) -> None:
            bar.write(summary(rows, seconds), file=sys.stdout)
            bar.update()

        lesson = args.lesson.zfill(2) if args.lesson else expected_lesson(notebooks)
        graded = grade_all(notebooks, args.timeout, args.mode, args.kernel, args.jobs, done, lesson=lesson)
    graded = [(found or [Row(path, NOTEBOOK_ROW, "error", NO_EXERCISE)], seconds) for path, (found, seconds) in zip(notebooks, graded)]
    extra = duplicate_rows(notebooks)
    rows = [r for path, (found, _) in zip(notebooks, graded) for r in found + [e for e in extra if e.notebook == path]]
    out = write_csv(rows, args.csv)
    frame = grade_report.rows_frame(rows)
    table = grade_report.exercise_summary(frame)
    base = out.with_name(out.stem + "_summary")
    table.to_csv(base.with_suffix(".csv"), encoding="utf-8")
    title = grade_report.summary_title(frame, args.mode)
    figure = grade_report.plot_summary(table, base.with_suffix(".png"), title) if len(table) else None
    with grade_report.wide_display():
        print("\n" + (table.to_string() if len(table) else "no exercise was graded in any notebook"))
    print(f"wrote {out} ({len(rows)} rows), {base.with_suffix('.csv')}" + (f", {figure}" if figure else ""))
    for warning in dict.fromkeys(row.detail.split(": this one and ")[0] for row in extra):
        print(f"WARNING: {warning}; see their (student) rows", file=sys.stderr)
    if args.feedback:
        written, skipped = grade_report.write_feedback(frame, args.feedback)
        print(f"wrote {_count(len(written), 'feedback file')} to {args.feedback}" + (f"; none for {', '.join(skipped)} (see their (student) rows)" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
