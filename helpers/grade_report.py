"""Grading a whole class: each notebook in a process of its own, and what an instructor gets back.

:func:`run_isolated` runs one task per process, a few at a time, under a wall-clock guard (a
worker that crashes or hangs costs only its own task). :mod:`helpers.grade` grades one notebook
per task; this module turns its rows (any objects with ``notebook, exercise, status, detail``
attributes) into:

* the student of each row, taken from the submission's path (:func:`student_name`);
* a table per exercise (pandas): how many passed, failed, were not attempted, errored or were
  flagged, and the most common failure message (:func:`exercise_summary`), and a stacked bar
  chart of it (:func:`plot_summary`, matplotlib);
* one Markdown file per student with their own rows only (:func:`write_feedback`).

Rows whose exercise is in parentheses (``(notebook)``, ``(student)``) are about a whole
submission: they are in the CSV and the feedback, not in the per-exercise counts.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

STATUSES = ("pass", "fail", "not attempted", "error", "flagged")  # the order of the summary's columns and bars
COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "not attempted": "#9e9e9e", "error": "#ef6c00", "flagged": "#6a1b9a"}
COLUMNS = ("student", "notebook", "exercise", "status", "detail")
WHOLE = {"(notebook)": "The whole notebook", "(student)": "Your submissions"}
PROJECT_ROOT = Path(__file__).resolve().parents[1]
NAME_RULE = ("the student is the submission's file name without the lesson's name (alice_01_loading_fer2013.ipynb "
             "and 01_loading_fer2013_alice.ipynb are alice); when nothing else is left (alice/01_loading_fer2013.ipynb) "
             "it is the folder's name; a file name without a lesson's name is the student's name (alice.ipynb)")


def lesson_names(root: Path = PROJECT_ROOT) -> list[str]:
    """The lessons' file stems (``01_loading_fer2013``, ...) from ``lessons/`` and ``solutions/``, longest first."""
    stems = {p.stem for folder in ("lessons", "solutions") for p in (root / folder).glob("[0-9][0-9]_*.ipynb")}
    return sorted(stems, key=lambda s: (-len(s), s))


def student_name(path: str | os.PathLike, lessons: list[str] | None = None) -> tuple[str, str]:
    """``(student, lesson)`` for a submission's path, by :data:`NAME_RULE`; ``lesson`` is ``""`` when none is named.

    ``submissions/alice/01_loading_fer2013.ipynb``, ``alice_01_loading_fer2013.ipynb`` and
    ``01_loading_fer2013_alice.ipynb`` all give ``("alice", "01_loading_fer2013")``. The match is
    case-insensitive; separators (``_``, ``-``, spaces, dots) around the lesson's name are dropped.
    """
    path = Path(path)
    stem = path.stem
    for lesson in lessons if lessons is not None else lesson_names():
        at = stem.lower().find(lesson.lower())
        if at >= 0:
            rest = (stem[:at].strip("_- .") + " " + stem[at + len(lesson):].strip("_- .")).strip()
            folder = path.absolute().parent.name
            return (rest or folder or stem), lesson
    return stem, ""


def duplicates(paths: list[str], lessons: list[str] | None = None) -> dict[tuple[str, str], list[str]]:
    """``(student, lesson) -> paths`` for every student with more than one submission of the same lesson."""
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in paths:
        student, lesson = student_name(path, lessons)
        seen[(student, lesson or Path(path).stem)].append(str(path))
    return {key: found for key, found in seen.items() if len(found) > 1}


def rows_frame(rows, lessons: list[str] | None = None):
    """The rows as a pandas DataFrame with :data:`COLUMNS` (the student derived from each row's notebook)."""
    import pandas as pd

    lessons = lesson_names() if lessons is None else lessons
    names = {}
    records = []
    for row in rows:
        if row.notebook not in names:
            names[row.notebook] = student_name(row.notebook, lessons)[0]
        records.append((names[row.notebook], row.notebook, row.exercise, row.status, row.detail))
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def _headline(detail: str) -> str:
    """A failure message's first line without the exercise's name: ``case 3/4 is wrong.``"""
    first = (detail.strip().splitlines() or [""])[0]
    return re.sub(r"^[A-Za-z_]\w*: ", "", first)


def exercise_summary(frame):
    """One row per exercise (in order of first appearance): a count per status, ``total``, and
    ``most common failure`` (the commonest first line of the ``fail`` details, ``"... (k of n)"``).

    ``frame`` is :func:`rows_frame`'s table; rows about a whole submission (``(notebook)``) are left out.
    """
    import pandas as pd

    graded = frame[~frame["exercise"].str.startswith("(")]
    order = list(dict.fromkeys(graded["exercise"]))
    counts = pd.crosstab(graded["exercise"], graded["status"]).reindex(index=order, fill_value=0)
    extra = [s for s in counts.columns if s not in STATUSES]
    table = counts.reindex(columns=list(STATUSES) + extra, fill_value=0)
    table["total"] = table.sum(axis=1)
    commonest = []
    for exercise in order:
        fails = Counter(_headline(d) for d in graded.loc[(graded["exercise"] == exercise) & (graded["status"] == "fail"), "detail"])
        commonest.append(f"{fails.most_common(1)[0][0]} ({fails.most_common(1)[0][1]} of {sum(fails.values())})" if fails else "")
    table["most common failure"] = commonest
    table.index.name = "exercise"
    return table


def summary_title(frame, mode: str) -> str:
    """The figure's title: ``"30 notebooks, quick mode: 3 with a problem, 1 not graded"``."""
    notebooks = frame["notebook"].nunique()
    problems = frame.loc[frame["exercise"] == "(notebook)", "notebook"].nunique()
    ungraded = notebooks - frame.loc[~frame["exercise"].str.startswith("("), "notebook"].nunique()
    return (f"{notebooks} notebooks, {mode} mode: {problems} with a problem"
            + (f", {ungraded} not graded" if ungraded else ""))


def plot_summary(table, path: str | os.PathLike, title: str = "") -> Path:
    """A horizontal stacked bar per exercise (submissions per status) saved as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("agg", force=False)
    import matplotlib.pyplot as plt

    statuses = [s for s in table.columns if s not in ("total", "most common failure")]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(table) + 1.6), layout="constrained")
    left = [0] * len(table)
    labels = list(table.index)[::-1]
    for status in statuses:
        values = list(table[status])[::-1]
        bars = ax.barh(labels, values, left=left, color=COLOURS.get(status, "#455a64"), label=status)
        ax.bar_label(bars, labels=[str(v) if v else "" for v in values], label_type="center", color="white", fontsize=9)
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlabel("submissions")
    ax.set_title(title or "Grades per exercise")
    fig.legend(ncols=len(statuses), loc="outside lower center", frameon=False, fontsize=9)
    ax.xaxis.get_major_locator().set_params(integer=True)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def safe_file_name(name: str) -> str:
    """``name`` usable as a file name: letters, digits, ``.``, ``-`` and ``_`` kept, the rest ``_``."""
    cleaned = re.sub(r"[^\w.-]+", "_", name).strip("._") or "unnamed"
    return cleaned[:100]


def feedback_text(student: str, rows) -> str:
    """One student's Markdown report: per notebook, each exercise's status, then what failed and why
    (the failing case as the student's own check printed it)."""
    lines = [f"# Feedback for {student}", ""]
    for notebook, group in rows.groupby("notebook", sort=False):
        exercises = [r for r in group.itertuples() if not r.exercise.startswith("(")]
        lines += [f"## {Path(notebook).name}", ""]
        if exercises:
            lines += ["| exercise | status |", "| --- | --- |"] + [f"| {r.exercise} | {r.status} |" for r in exercises]
        for r in group.itertuples():
            if r.status not in ("pass", "not attempted") and r.detail:
                fence = "~~~~" if "```" in r.detail else "```"
                lines += ["", f"### {WHOLE.get(r.exercise, r.exercise)}: {r.status}", "", fence, r.detail, fence]
        lines.append("")
    return "\n".join(lines)


def write_feedback(frame, folder: str | os.PathLike) -> tuple[list[Path], list[str]]:
    """Write ``folder/<student>.md`` for each student, with that student's rows only.

    Returns ``(files written, students skipped)``: a student name shared by two submissions of the
    same lesson (a ``(student)`` row says so) gets no file, so that nobody is sent another
    person's results; rename one submission and grade again.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shared = set(frame.loc[frame["exercise"] == "(student)", "student"])
    written, skipped, used = [], sorted(shared), {}
    for student, rows in frame.groupby("student", sort=False):
        if student in shared:
            continue
        name = safe_file_name(student)
        if name in used:  # two names that differ only in characters a file name cannot hold
            skipped.append(student)
            continue
        used[name] = student
        out = folder / f"{name}.md"
        out.write_text(feedback_text(student, rows), encoding="utf-8")
        written.append(out)
    return written, skipped


RUNNING = object()  # what _collect says of a worker that has not finished


def _worker(conn, target, args) -> None:
    """A worker process's whole life: run ``target(*args)`` and send back what it returned."""
    conn.send((target(*args),))  # in a tuple: a task may return None
    conn.close()


def _kill_tree(process) -> None:
    """Kill a worker and every process it started (a Jupyter kernel runs in a session of its own).

    psutil comes with ipykernel (which depends on it); the kernel would also end by itself once its
    parent is gone (ipykernel polls for that).
    """
    import psutil

    try:
        family = psutil.Process(process.pid).children(recursive=True) + [psutil.Process(process.pid)]
    except psutil.Error:
        family = []
    for member in family:
        try:
            member.kill()
        except psutil.Error:
            pass
    process.join(5)


def _collect(process, conn, started: float, guard_s: float):
    """A finished worker's result, a string saying what happened to it, or :data:`RUNNING`."""
    if conn.poll():
        try:
            return conn.recv()[0]
        except (EOFError, OSError):  # it died without a word
            process.join(5)
            return f"the grader's worker for it died (exit code {process.exitcode})"
    if time.monotonic() - started > guard_s:
        _kill_tree(process)
        return f"its grading ran past the grader's guard of {guard_s:g} s; it and its kernel were killed"
    return RUNNING


def run_isolated(target, tasks: list[tuple], jobs: int, guard_s: float, on_done=None) -> list:
    """``target(*task)`` for each task, each in a fresh process (``spawn``), at most ``jobs`` at a time.

    ``target`` must be a module-level function returning something picklable. A task's result is
    what it returned, or a string when its worker died or ran past ``guard_s`` seconds (then it is
    killed with its children). ``on_done(index, result)`` is called as each one finishes.
    Results come back in the order of ``tasks``; an interrupt (Ctrl-C) kills the running workers.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    results, queue, running = {}, list(enumerate(tasks)), {}
    try:
        while queue or running:
            while queue and len(running) < max(1, jobs):
                index, task = queue.pop(0)
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_worker, args=(send, target, task))
                process.start()
                send.close()
                running[index] = (process, receive, time.monotonic())
            wait([conn for _, conn, _ in running.values()], timeout=1.0)
            for index, (process, conn, started) in list(running.items()):
                result = _collect(process, conn, started, guard_s)
                if result is not RUNNING:
                    process.join(5)
                    conn.close()
                    del running[index]
                    results[index] = result
                    if on_done is not None:
                        on_done(index, result)
    finally:
        for process, _, _ in running.values():
            _kill_tree(process)
    return [results[i] for i in range(len(tasks))]


def wide_display():
    """pandas display options wide enough to print the summary table on a terminal."""
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60)
