"""Generate the student notebooks in lessons/ from the complete notebooks in solutions/.

    python tools/make_lessons.py          # (re)write lessons/NN_*.ipynb
    python tools/make_lessons.py --check  # exit 1 if any lesson is out of sync (used by the tests)

In a solution, each exercise's answer sits between two marker lines::

    def class_counts(labels):
        # BEGIN SOLUTION
        return np.bincount(labels, minlength=7)
        # END SOLUTION

In the lesson the answer becomes a stub at the same indentation::

        # YOUR CODE HERE (then run the check cell below)
        raise NotImplementedError("Exercise not done yet")

A self-check answer (``helpers.checks.self_check``) is one dict entry a line, marked ``# ANSWER``;
in the lesson its value becomes ``None``::

    self_check_answers = {
        1: "b",  # ANSWER          ->      1: None,  # your answer
    }

Everything else is copied; the "Open in Colab" badge is pointed at the lesson's own path, and
all outputs are stripped. Nobody edits lessons/ by hand.

The setup cell (the first code cell of every notebook) is written from ONE template,
:data:`SETUP_TEMPLATE`, with the repository address from ``helpers.course.REPO_URL``: this script
puts it into every solution (only that cell changes) and ``--check`` fails when one differs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from helpers.course import REPO_URL  # noqa: E402  (the one place the address is written)

#: The setup cell of every notebook; ``{repo}`` and ``{title}`` are filled in. Plain Python (no
#: ``!``/``%`` magics) so that tests/test_setup_cell.py can run it with a stand-in ``google.colab``.
SETUP_TEMPLATE = '''\
# Setup. In Colab (about a minute): fetch and install the course; elsewhere nothing to do.
import os, subprocess, sys
if "google.colab" in sys.modules:
    REPO = os.environ.get("FER_COURSE_REPO", "{repo}")  # your fork: set FER_COURSE_REPO first
    if not os.path.isdir("fer-course"):
        clone = subprocess.run(["git", "clone", "-q", "--depth", "1", REPO, "fer-course"], capture_output=True, text=True)
        if clone.returncode != 0:
            why = (clone.stderr.strip().splitlines() or ["no message from git"])[-1]
            raise SystemExit(f"Could not clone {{REPO}} ({{why}}). Upload the course folder as fer-course/ (Files panel), "
                             "or set os.environ['FER_COURSE_REPO'] to your fork's address, and run this cell again.")
    try:  # Colab ships opencv-python: a second OpenCV build over the same files would break it
        import cv2
        has_opencv = hasattr(cv2, "CascadeClassifier")
    except ImportError:
        has_opencv = False
    import tomllib
    with open("fer-course/pyproject.toml", "rb") as f:
        needs = tomllib.load(f)["project"]["dependencies"]
    needs = [n for n in needs if not (has_opencv and n.startswith("opencv"))]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *needs], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", "fer-course"], check=True)
    sys.path.insert(0, "fer-course")
import helpers
info = helpers.start("{title}")   # first output: mode, data source, seed (+ offline banner)'''
TITLE = re.compile(r'helpers\.start\("([^"]+)"\)')


def setup_cell(title: str) -> str:
    """The setup cell's source for a notebook titled ``title`` ("NN · Title")."""
    return SETUP_TEMPLATE.format(repo=REPO_URL, title=title)


def with_setup_cell(nb: nbformat.NotebookNode, name: str) -> bool:
    """Put the template into ``nb``'s first code cell (keeping its title); True if it changed."""
    cell = next((c for c in nb.cells if c.cell_type == "code"), None)
    match = TITLE.search(cell.source) if cell is not None else None
    if match is None:
        raise ValueError(f"{name}: the first code cell must be the setup cell, ending in helpers.start(\"NN · Title\")")
    source = setup_cell(match.group(1))
    changed = cell.source != source
    cell.source = source
    return changed
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
STUB = ["# YOUR CODE HERE (then run the check cell below)", 'raise NotImplementedError("Exercise not done yet")']
ANSWER = re.compile(r"^(?P<key>\s*[^:#]+:\s*)(?P<value>.+?)(?P<comma>,?)\s*# ANSWER\s*$")


def strip_answer(line: str) -> str:
    """A self-check answer line (``    2: 1.95,  # ANSWER``) with its value replaced by ``None``."""
    match = ANSWER.match(line)
    return f"{match['key']}None,  # your answer" if match else line


def strip_solutions(source: str) -> str:
    """Replace every BEGIN/END SOLUTION block in a cell's source with the stub."""
    out, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN!r} in:\n{source}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + s for s in STUB]
        elif stripped == END:
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r} in:\n{source}")
            inside = False
        elif not inside:
            out.append(strip_answer(line))
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r} in:\n{source}")
    return "\n".join(out)


def clear_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    return nb


def lesson_from_solution(solution: Path) -> nbformat.NotebookNode:
    nb = clear_outputs(nbformat.read(solution, as_version=4))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
        else:
            cell.source = cell.source.replace(f"blob/main/solutions/{solution.name}", f"blob/main/lessons/{solution.name}")
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that lessons/ is in sync")
    args = parser.parse_args(argv)
    stale = []
    solutions = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    for sol in solutions:
        nb = nbformat.read(sol, as_version=4)
        if with_setup_cell(nb, sol.name):
            stale.append(sol)
            if not args.check:
                sol.write_text(render(nb))
    for sol in solutions:
        text = render(lesson_from_solution(sol))
        target = ROOT / "lessons" / sol.name
        if not target.exists() or target.read_text() != text:
            stale.append(target)
            if not args.check:
                target.write_text(text)
    extra = sorted({p.name for p in (ROOT / "lessons").glob("*.ipynb")} - {s.name for s in solutions})
    if args.check:
        if stale or extra:
            print("Out of sync with the setup template or with solutions/: " + ", ".join(str(p.relative_to(ROOT)) for p in stale) +
                  (f"; lessons without a solution: {extra}" if extra else "") +
                  "\nRun: python tools/make_lessons.py", file=sys.stderr)
            return 1
        print(f"lessons/ in sync with {len(solutions)} solution notebooks")
    else:
        print(f"updated {len(stale)} notebook(s) ({len(solutions)} solutions and their lessons)" + (f"; remove stale lessons {extra}" if extra else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
