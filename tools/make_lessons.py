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

Everything else is copied; the "Open in Colab" badge is pointed at the lesson's own path, and
all outputs are stripped. Nobody edits lessons/ by hand.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
STUB = ["# YOUR CODE HERE (then run the check cell below)", 'raise NotImplementedError("Exercise not done yet")']


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
            out.append(line)
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
        text = render(lesson_from_solution(sol))
        target = ROOT / "lessons" / sol.name
        if not target.exists() or target.read_text() != text:
            stale.append(target)
            if not args.check:
                target.write_text(text)
    extra = sorted({p.name for p in (ROOT / "lessons").glob("*.ipynb")} - {s.name for s in solutions})
    if args.check:
        if stale or extra:
            print("Out of sync with solutions/: " + ", ".join(str(p.relative_to(ROOT)) for p in stale) +
                  (f"; lessons without a solution: {extra}" if extra else "") +
                  "\nRun: python tools/make_lessons.py", file=sys.stderr)
            return 1
        print(f"lessons/ in sync with {len(solutions)} solution notebooks")
    else:
        print(f"wrote {len(stale)} of {len(solutions)} lessons" + (f"; remove stale lessons {extra}" if extra else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
