"""Notebook conventions (CONTRIBUTING.md): structure, badges, no outputs, lessons in sync.

nbval runs the notebooks themselves (``pytest --nbval-lax solutions lessons``); this file only
reads them, so it is fast and says exactly which convention a notebook breaks.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.course import COLAB_URL, REPO_URL

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))
NOTEBOOKS = SOLUTIONS + LESSONS
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def markdown_lines(cell) -> list[str]:
    """Lines of a markdown cell outside fenced code blocks."""
    lines, fenced = [], False
    for line in cell.source.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def headings(nb, level: int) -> list[tuple[int, str]]:
    prefix = "#" * level + " "
    return [(i, line[len(prefix):].strip()) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
            for line in markdown_lines(c) if line.startswith(prefix)]


def test_lessons_in_sync_with_solutions():
    import subprocess
    import sys

    run = subprocess.run([sys.executable, str(ROOT / "tools" / "make_lessons.py"), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr + run.stdout


def test_numbered_from_00_without_gaps():
    assert SOLUTIONS, "no solution notebooks"
    for path in NOTEBOOKS:
        assert NAME.match(path.name), f"{rel(path)}: notebooks are named NN_lowercase_name.ipynb"
    numbers = [int(NAME.match(p.name).group(1)) for p in SOLUTIONS]
    assert numbers == list(range(len(numbers))), f"solutions/ numbers {numbers}: expected 00, 01, ... without gaps or repeats"
    assert [p.name for p in LESSONS] == [p.name for p in SOLUTIONS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=rel)
def test_valid_and_without_outputs(path):
    nb = read(path)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{rel(path)} cell {i} has outputs: commit notebooks without outputs "
                "(jupyter nbconvert --clear-output --inplace solutions/*.ipynb)"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=rel)
def test_title_badge_objectives_time(path):
    nb = read(path)
    h1 = headings(nb, 1)
    assert len(h1) == 1, f"{rel(path)}: exactly one H1, found {[t for _, t in h1]}"
    index, title = h1[0]
    assert index == 0 and nb.cells[0].cell_type == "markdown", f"{rel(path)}: the H1 belongs in the first cell"
    number = path.name[:2]
    assert re.match(rf"^{number} · \S", title), f"{rel(path)}: title should read '{number} · Title', got {title!r}"

    first = nb.cells[0].source
    own = COLAB_URL + rel(path)
    assert f"[![Open In Colab]({BADGE_IMAGE})]({own})" in first, f"{rel(path)}: Colab badge must link to {own}"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for url in re.findall(r"https://colab\.research\.google\.com/github/[^\s)\"']+", cell.source):
                assert url == own, f"{rel(path)}: Colab link {url} is not this notebook's path"

    assert re.search(r"^\*\*Learning objectives\*\*", first, re.M), f"{rel(path)}: **Learning objectives** missing"
    after = first.split("**Learning objectives**", 1)[1]
    assert re.search(r"^\s*[-*] \S", after, re.M), f"{rel(path)}: learning objectives as bullets"
    assert re.search(r"^\*\*Estimated time:\*\* \d+(–\d+)? minutes", first, re.M), (
        f"{rel(path)}: '**Estimated time:** N minutes' missing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=rel)
def test_setup_cell(path):
    """The first code cell is tools/make_lessons.py's setup template, with this notebook's title."""
    sys.path.insert(0, str(ROOT / "tools"))
    from make_lessons import setup_cell

    nb = read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{rel(path)} has no code"
    match = re.search(r'helpers\.start\(\s*"([^"]+)"', code[0].source)
    assert match and match.group(1).startswith(path.name[:2] + " · "), f"{rel(path)}: helpers.start(\"NN · Title\")"
    assert code[0].source == setup_cell(match.group(1)), (
        f"{rel(path)}: the first code cell must be the setup template (python tools/make_lessons.py writes it)"
    )
    assert REPO_URL in code[0].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=rel)
def test_summary_and_further_exercises_at_the_end(path):
    nb = read(path)
    h2 = headings(nb, 2)
    titles = [t for _, t in h2]
    assert "Summary" in titles and "Further exercises" in titles, f"{rel(path)}: needs '## Summary' and '## Further exercises'"
    summary = max(i for i, t in h2 if t == "Summary")
    further = max(i for i, t in h2 if t == "Further exercises")
    assert summary <= further, f"{rel(path)}: Summary comes before Further exercises"
    assert sum(c.cell_type == "code" for c in nb.cells[summary:further]) <= 1, (
        f"{rel(path)}: the lesson's code comes before the Summary (which may hold one cell printing this run's numbers)"
    )
    assert titles[-1] == "Further exercises" or titles.index("Summary") >= len(titles) - 2, (
        f"{rel(path)}: Summary and Further exercises are the last sections"
    )


SELF_CHECK_CALL = re.compile(r'helpers\.checks\.self_check\("(\d\d)", self_check_answers\)')


def self_check_section(nb) -> list:
    """The cells from '## Self-check' up to the next H2."""
    h2 = headings(nb, 2)
    start = next((i for i, t in h2 if t == "Self-check"), None)
    if start is None:
        return []
    end = min([i for i, _ in h2 if i > start] + [len(nb.cells)])
    return nb.cells[start:end]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=rel)
def test_self_check_before_the_summary(path):
    """Every lesson ends with '## Self-check' (its questions shown, the student's answers, the check),
    right before '## Summary'; the solution's answers are all right, the lesson's all unanswered."""
    import ast

    from helpers.checks.quiz import QUIZZES, score

    nb = read(path)
    number = NAME.match(path.name).group(1)
    titles = [t for _, t in headings(nb, 2)]
    assert "Self-check" in titles, f"{rel(path)}: needs a '## Self-check' section (see CONTRIBUTING.md)"
    assert titles.index("Self-check") == titles.index("Summary") - 1, f"{rel(path)}: '## Self-check' comes right before '## Summary'"
    code = "\n".join(c.source for c in self_check_section(nb) if c.cell_type == "code")
    assert f'helpers.checks.show_questions("{number}")' in code, f"{rel(path)}: the self-check shows its questions"
    calls = SELF_CHECK_CALL.findall(code)
    assert calls == [number], f"{rel(path)}: one helpers.checks.self_check(\"{number}\", self_check_answers), found {calls}"
    tree = ast.parse(code)
    assigned = [n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "self_check_answers" for t in n.targets)]
    assert len(assigned) == 1, f"{rel(path)}: one `self_check_answers = {{...}}`"
    answers = ast.literal_eval(assigned[0])
    assert number in QUIZZES, f"{rel(path)}: no questions registered for lesson {number} (helpers/checks/lesson{number}.py)"
    assert sorted(answers) == list(range(1, len(QUIZZES[number]) + 1)), f"{rel(path)}: one answer per question, numbered 1.."
    statuses = [status for _, status, _ in score(number, answers)]
    expected = "pass" if path in SOLUTIONS else "not attempted"
    assert statuses == [expected] * len(statuses), f"{rel(path)}: self-check answers scored {statuses}"


@pytest.mark.parametrize("path", LESSONS, ids=rel)
def test_lessons_hold_no_answers(path):
    for cell in read(path).cells:
        assert "# BEGIN SOLUTION" not in cell.source and "# END SOLUTION" not in cell.source
