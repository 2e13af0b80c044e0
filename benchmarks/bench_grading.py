"""Grading benchmark: 30 copies of lesson 02 graded with ``python -m helpers.grade --jobs 2``.

    python benchmarks/bench_grading.py                      # 30 notebooks, --jobs 2, quick mode
    python benchmarks/bench_grading.py --copies 10 --jobs 1 --no-record

Builds a class in a temporary folder from ``lessons/02_class_imbalance.ipynb``: half the copies
filled with the solution's answers (the exercise cells of ``solutions/`` put into the lesson), and
the rest partly answered, answered wrong (a ratio upside down, the minority class predicted),
blank, or broken (not JSON; a kernel that exits in its first cell; a cell that never returns, which
costs its ``--timeout``). Student names come from folders and from file names, both ways. The
class is graded on the offline demo data (``FER2013_DIR`` is unset for the run), so the summary
figure holds counts only. Prints wall time, seconds per notebook and the load average before and
after (the cores may be shared: a time measured under load is an upper bound), appends the same to
``benchmarks/RESULTS.md`` (unless ``--no-record``) and copies the summary figure to ``--figure``
when given (the instructor guide's ``instructors/grades_summary.png`` comes from this run).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LESSON = "02_class_imbalance"
WRONG = {"return float(counts.max() / counts.min())": "return float(counts.min() / counts.max())",
         "np.bincount(labels).argmax()": "np.bincount(labels).argmin()"}


def filled(answers: int):
    """The lesson with its first ``answers`` exercise cells taken from the solution (an nbformat node)."""
    import nbformat

    lesson = nbformat.read(ROOT / "lessons" / f"{LESSON}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / f"{LESSON}.ipynb", as_version=4)
    answered = [i for i, (a, b) in enumerate(zip(lesson.cells, solution.cells))
                if a.cell_type == "code" and a.source != b.source]
    for i in answered[:answers]:
        lesson.cells[i].source = solution.cells[i].source
    return lesson


def build_class(folder: Path, copies: int) -> dict[str, str]:
    """Write the submissions; returns ``{path: what it is}``."""
    import nbformat

    kinds = (["answered"] * (copies // 2) + ["partly answered", "answered wrong", "blank"] * copies)[:copies - 3]
    kinds += ["not JSON", "kernel exits", "endless loop"]
    made = {}
    for n, kind in enumerate(kinds, 1):
        name = f"student{n:02d}"
        path = folder / name / f"{LESSON}.ipynb" if n % 2 else folder / (f"{name}_{LESSON}.ipynb" if n % 4 else f"{LESSON}_{name}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "not JSON":
            path.write_text('{"cells": [ an editor cut this file', encoding="utf-8")
        else:
            nb = filled({"answered": 4, "partly answered": 2, "answered wrong": 4}.get(kind, 0))
            if kind == "answered wrong":
                for cell in nb.cells:
                    for right, wrong in WRONG.items():
                        cell.source = cell.source.replace(right, wrong)
            first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
            if kind == "kernel exits":
                nb.cells.insert(first_code, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
            if kind == "endless loop":
                last_check = max(i for i, c in enumerate(nb.cells) if "helpers.checks.check(" in c.source)
                nb.cells.insert(last_check, nbformat.v4.new_code_cell("while True:\n    pass"))
            nbformat.write(nb, path)
        made[str(path)] = kind
    return made


def record(results: Path, lines: list[str]) -> None:
    """Append one section to the results file."""
    with open(results, "a", encoding="utf-8") as f:
        f.write("\n" + "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=30, help="notebooks in the class (default 30, at least 6)")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs for the grader (default 2)")
    parser.add_argument("--timeout", type=float, default=60, help="--timeout for the grader, seconds per notebook (default 60)")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"), help="where to append the numbers")
    parser.add_argument("--no-record", action="store_true", help="print only, append nothing")
    parser.add_argument("--figure", help="copy the summary figure here (e.g. instructors/grades_summary.png)")
    args = parser.parse_args(argv)
    if args.copies < 6:
        parser.error("--copies must be at least 6")
    with tempfile.TemporaryDirectory(prefix="fer-bench-grading-") as tmp:
        made = build_class(Path(tmp) / "submissions", args.copies)
        env = {k: v for k, v in os.environ.items() if k != "FER2013_DIR"}  # the offline demo data
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH", "")] if p])
        csv = Path(tmp) / "grades.csv"
        command = [sys.executable, "-m", "helpers.grade", str(Path(tmp) / "submissions"), "--csv", str(csv),
                   "--jobs", str(args.jobs), "--timeout", f"{args.timeout:g}", "--mode", "quick",
                   "--feedback", str(Path(tmp) / "feedback")]
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        load_before = os.getloadavg()
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        load_after = os.getloadavg()
        print(done.stdout)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        summary = csv.with_name("grades_summary.csv").read_text(encoding="utf-8")
        if args.figure:
            shutil.copy(csv.with_name("grades_summary.png"), args.figure)
    kinds = {k: list(made.values()).count(k) for k in dict.fromkeys(made.values())}
    lines = [f"### Grading {args.copies} copies of lesson 02 with --jobs {args.jobs} (started {stamp}, `make bench-grading`)", "",
             f"`benchmarks/bench_grading.py`: quick mode, offline demo data, --timeout {args.timeout:g} s, "
             f"{os.cpu_count()} CPU cores, Python {platform.python_version()}. The class: "
             + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ".", "",
             "| notebooks | jobs | wall time | seconds per notebook | load average before | after |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |",
             f"| {args.copies} | {args.jobs} | {seconds:.0f} s | {seconds / args.copies:.1f} | "
             f"{load_before[0]:.2f} | {load_after[0]:.2f} |", "",
             "Summary per exercise (the grader's `grades_summary.csv`):", "", "```", summary.strip(), "```"]
    print("\n".join(lines))
    if not args.no_record:
        record(Path(args.results), lines)
        print(f"appended to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
