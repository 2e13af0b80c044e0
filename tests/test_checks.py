"""The exercise checks: every registered exercise, and every exercise in every notebook.

For each exercise in ``helpers.checks.EXERCISES``: the reference passes, a stub is "not
attempted", and every listed wrong answer fails. For each solution notebook: each answer cell
(the one with ``# BEGIN SOLUTION``) passes its check, the generated lesson's cell is "not
attempted", and a check cell follows. New lessons and exercises are picked up automatically.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

import helpers
import helpers.checks as checks
from helpers import CLASS_NAMES

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
BEGIN = "# BEGIN SOLUTION"


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise not done yet")


# --------------------------------------------------------------------------- registered exercises


@pytest.mark.parametrize("name", sorted(checks.EXERCISES))
def test_reference_passes(name):
    result = checks.run_check(checks.EXERCISES[name].reference, name)
    assert result.status == "pass", result.message


@pytest.mark.parametrize("name", sorted(checks.EXERCISES))
def test_stub_is_not_attempted(name):
    result = checks.run_check(stub, name)
    assert result.status == "not attempted", result.message
    assert "not attempted" in result.message


@pytest.mark.parametrize("name", sorted(checks.EXERCISES))
def test_has_wrong_answers_and_each_fails(name):
    ex = checks.EXERCISES[name]
    assert ex.wrong_answers, f"{name}: register at least one plausible wrong answer"
    for i, wrong in enumerate(ex.wrong_answers):
        result = checks.run_check(wrong, name)
        assert result.status == "fail", f"{name}: wrong answer {i} was not caught: {result.message}"


@pytest.mark.parametrize("name", sorted(checks.EXERCISES))
def test_has_several_cases(name):
    cases = checks.EXERCISES[name].cases()
    assert len(cases) >= 2 and all(isinstance(c, tuple) for c in cases), name


# --------------------------------------------------------------------------- the mechanism itself


def test_check_prints_and_returns(capsys):
    reference = checks.EXERCISES["class_counts"].reference

    def class_counts(labels):
        return np.bincount(labels, minlength=7)

    assert checks.check(class_counts) is class_counts
    assert capsys.readouterr().out.startswith("PASS")

    def class_counts(labels):  # noqa: F811 - the student's first try
        return np.bincount(labels)

    assert checks.check(class_counts) is reference
    out = capsys.readouterr().out
    assert out.startswith("FAIL") and "input:" in out and "expected:" in out and "got:" in out
    assert "hint:" in out and "continues with the reference" in out

    def class_counts(labels):  # noqa: F811
        raise NotImplementedError

    assert checks.check(class_counts) is reference
    assert capsys.readouterr().out.startswith("TODO")

    def class_counts(labels):  # noqa: F811
        np.bincount(labels, minlength=7)  # forgot `return`

    assert checks.check(class_counts) is reference
    assert "forget `return`" in capsys.readouterr().out

    def class_counts(labels):  # noqa: F811
        return labels[100]  # crashes

    result = checks.run_check(class_counts)
    assert result.status == "fail" and "IndexError" in result.message


def test_answer_of_another_type_passes_or_fails_but_never_crashes():
    """An array where the reference returns a list is right when the numbers are; an answer that
    can't be compared (a string, an array of another shape) is a FAIL with a message, not an error."""
    right = checks.run_check(lambda f: np.array([f.get(c, 0) for c in CLASS_NAMES]), "folder_counts_in_class_order")
    assert right.status == "pass", right.message
    for wrong in (lambda f: np.array(sorted(f.values())), lambda f: "seven counts", lambda f: np.zeros((2, 7))):
        result = checks.run_check(wrong, "folder_counts_in_class_order")
        assert result.status == "fail" and "expected:" in result.message
    assert checks.same([1, 2], np.array([1, 2])) and not checks.same([1, 2], np.array([2, 1]))
    assert checks.same("a", np.array(["a", "b"])) is False
    assert not checks.same("a", np.array(["a"])) and not checks.same(True, np.array([True]))
    assert checks.same([(1, 2), (3,)], np.array([1, 2, 3])) is False  # a ragged reference, no error


def test_unknown_exercise_name():
    with pytest.raises(KeyError, match="class_counts"):
        checks.run_check(lambda: None, "no_such_exercise")


# --------------------------------------------------------------------------- exercises in the notebooks


def exercise_cells(path: Path) -> list[tuple[int, str]]:
    nb = nbformat.read(path, as_version=4)
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and BEGIN in c.source]


NOTEBOOK_EXERCISES = [(p, i) for p in SOLUTIONS for i, _ in exercise_cells(p)]


def defined_functions(source: str) -> list[str]:
    return [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]


@pytest.fixture(scope="module")
def namespace():
    """What an exercise cell may use: np, pd, keras, helpers and CLASS_NAMES."""
    import keras
    import pandas as pd

    return {"np": np, "pd": pd, "keras": keras, "helpers": helpers, "CLASS_NAMES": CLASS_NAMES}


def run_cell(source: str, namespace: dict) -> dict:
    ns = dict(namespace)
    exec(compile(source, "<exercise cell>", "exec"), ns)
    return ns


def ids(params):
    path, index = params
    return f"{path.stem}-cell{index}"


def test_notebooks_have_exercises():
    """Lessons 01 and 02 have exercises (later lessons add theirs; they are found automatically)."""
    names = {p.name[:2] for p, _ in NOTEBOOK_EXERCISES}
    assert {"01", "02"} <= names, names


@pytest.mark.parametrize("where", NOTEBOOK_EXERCISES, ids=ids)
def test_solution_cell_passes_and_lesson_cell_is_not_attempted(where, namespace):
    path, index = where
    solution_source = nbformat.read(path, as_version=4).cells[index].source
    names = defined_functions(solution_source)
    assert names, f"{path.name} cell {index}: the exercise cell defines no function"
    solution_ns = run_cell(solution_source, namespace)
    for name in names:
        assert name in checks.EXERCISES, f"{path.name}: {name} is not registered in helpers/checks/"
        result = checks.run_check(solution_ns[name], name)
        assert result.status == "pass", f"{path.name}: {result.message}"

    lesson = ROOT / "lessons" / path.name
    assert lesson.is_file(), f"{lesson} missing: run python tools/make_lessons.py"
    lesson_source = nbformat.read(lesson, as_version=4).cells[index].source
    assert BEGIN not in lesson_source and "NotImplementedError" in lesson_source
    assert defined_functions(lesson_source) == names
    lesson_ns = run_cell(lesson_source, namespace)
    for name in names:
        result = checks.run_check(lesson_ns[name], name)
        assert result.status == "not attempted", f"{lesson.name}: {result.message}"


@pytest.mark.parametrize("where", NOTEBOOK_EXERCISES, ids=ids)
def test_exercise_cell_only_defines_functions_and_is_followed_by_its_check(where):
    path, index = where
    cells = nbformat.read(path, as_version=4).cells
    tree = ast.parse(cells[index].source)
    for node in tree.body:
        allowed = (ast.FunctionDef, ast.Import, ast.ImportFrom)
        is_docstring = isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)
        assert isinstance(node, allowed) or is_docstring, (
            f"{path.name} cell {index}: an exercise cell must only define the function (the tests exec it on its own)"
        )
    following = next((c for c in cells[index + 1 :] if c.cell_type == "code"), None)
    assert following is not None, f"{path.name} cell {index}: no check cell after the exercise"
    for name in defined_functions(cells[index].source):
        pattern = rf"^{name}\s*=\s*helpers\.checks\.check\(\s*{name}\s*\)"
        assert re.search(pattern, following.source, re.M), (
            f"{path.name}: the code cell after the exercise {name!r} must be `{name} = helpers.checks.check({name})`"
        )


def test_every_registered_exercise_is_used_in_a_notebook():
    used = {name for p, i in NOTEBOOK_EXERCISES for name in defined_functions(nbformat.read(p, as_version=4).cells[i].source)}
    unused = sorted(set(checks.EXERCISES) - used)
    assert not unused, f"registered in helpers/checks/ but in no solution notebook: {unused}"


# --------------------------------------------------------------------------- feedback


def test_array_feedback_names_the_first_difference_and_shows_an_ewm_adjust_mistake():
    """ewm(adjust=True) vs the course's s[0] = p[0] recursion: the first values agree; the message shows where not."""
    import pandas as pd

    def smooth_probabilities(probs, alpha):
        return pd.DataFrame(probs).ewm(alpha=alpha, adjust=True).mean().to_numpy()

    message = checks.run_check(smooth_probabilities).message
    assert "first difference at index (1, 0)" in message and "largest difference" in message
    lines = {l.split(":")[0].strip(): l.split(":", 1)[1] for l in message.splitlines() if l.strip().startswith("from there")}
    assert lines["from there, expected"] != lines["from there, got"]


def test_keras_feedback_says_what_was_compared():
    import keras

    message = checks.run_check(lambda lr, s: (keras.optimizers.SGD(lr), keras.losses.CategoricalCrossentropy(from_logits=True)),
                               "make_optimizer_and_loss").message
    assert "SGD(learning_rate=0.001)" in message and "from_logits=True" in message and "Adam(learning_rate=0.001)" in message
    assert "<" not in message  # no object reprs


def test_the_network_check_names_the_first_layer_that_differs():
    wrong = checks.EXERCISES["build_cnn"].wrong_answers[0]  # no Rescaling
    message = checks.run_check(wrong, "build_cnn").message
    assert "layer 1 differs" in message and "Rescaling" in message


def test_hints_come_in_tiers(capsys):
    checks.FAILURES.pop("imbalance_ratio", None)
    wrong = checks.EXERCISES["imbalance_ratio"].wrong_answers[0]
    checks.check(wrong, "imbalance_ratio")
    first = capsys.readouterr().out
    assert "hint:" in first and "def imbalance_ratio" not in first and "helpers.checks.hint('imbalance_ratio')" in first
    checks.check(wrong, "imbalance_ratio")
    assert "def imbalance_ratio" not in capsys.readouterr().out  # the same code again (Run All): not a new try
    other = checks.EXERCISES["imbalance_ratio"].wrong_answers[1]
    checks.check(other, "imbalance_ratio")
    assert "def imbalance_ratio" in capsys.readouterr().out  # the code, at the failure of a changed answer
    checks.hint("imbalance_ratio")
    assert "def imbalance_ratio" in capsys.readouterr().out  # or on request


# Code in a hint: a call (`name(`), indexing (`x[`) or a keyword argument (`k=v`). Hints give the idea in words.
CODE = re.compile(r"[A-Za-z_][\w.]*\(|\w\[|\w=\w")


@pytest.mark.parametrize("name", sorted(checks.EXERCISES))
def test_first_hint_gives_the_idea_not_code(name):
    """The first failure's hint is an idea; the code comes at the second failure or with helpers.checks.hint."""
    hint = checks.EXERCISES[name].hint
    assert hint, f"{name}: give a hint (the idea, in words)"
    assert not CODE.search(hint), f"{name}: the first hint shows code ({CODE.search(hint).group()!r}...): {hint}"


def test_code_in_a_hint_is_recognised():
    for code in ("np.argsort(-row)", "probs[i, labels[i]]", "RandomZoom(zoom, zoom)", "minlength=7", "s[0] = p[0]"):
        assert CODE.search(code), code
    for idea in ("look at np.bincount's minlength", "rank them (smallest first)", "x: epoch, y: the metric"):
        assert not CODE.search(idea), idea


def test_resampling_feedback_says_what_differs_without_printing_images():
    message = checks.run_check(checks.EXERCISES["oversample_rare"].wrong_answers[0], "oversample_rare").message
    assert "[[[" not in message and "..." not in message.split("what differs")[1]  # no 4-D arrays
    assert "images per class [40, 30, 30, 60, 30, 30, 35]" in message  # expected
    assert "images per class [60, 60, 60, 60, 60, 60, 60]" in message  # got
    assert "what differs: images per class" in message and "min_count = 30" in message
    relabelled = checks.run_check(checks.EXERCISES["random_oversample"].wrong_answers[2], "random_oversample").message
    assert "not in the input, the first at index" in relabelled


def test_table_feedback_shows_the_whole_small_table():
    message = checks.run_check(checks.EXERCISES["choose_remedy"].wrong_answers[0], "choose_remedy").message
    for text in ("val_macro_f1", "none", "class weights", "oversampling", "0.505", "margin = 0.02"):
        assert text in message, text
    assert " ..." not in message
    story = checks.run_check(checks.EXERCISES["diagnose_fit"].wrong_answers[0], "diagnose_fit").message
    rows = [l for l in story.splitlines() if re.match(r"\s+\d+\s+[\d.]+", l)]
    assert len(rows) == 12 and " ..." not in story  # every epoch of the 12-epoch history


def test_array_feedback_names_a_nan_as_the_largest_difference():
    message = checks.run_check(checks.EXERCISES["recall_from_confusion"].wrong_answers[-1], "recall_from_confusion").message
    assert "first difference at index (1,)" in message and "a NaN against a number at index (1,)" in message
    assert "[[ 8 10 10  6 18  7 13]" in message  # the confusion matrix, whole


def test_a_tenth_of_the_minimum_fails_where_the_range_test_never_turns_up():
    """On lesson 05's workshop network the loss stays flat to lr 1: a tenth of the minimum is far past the fall."""
    lrs, losses = checks.lesson05._range_curve(-3.3, 0.8, turn_up=False, noise=0.1, seed=2, drop=0.45)
    low, steepest, high = checks.lesson05._falling_range(lrs, losses)
    assert np.argmin(losses) >= len(losses) - 3 and low < steepest < high < lrs[np.argmin(losses)] / 10
    assert low <= checks.EXERCISES["pick_learning_rate"].reference(lrs, losses) <= high
    message = checks.run_check(lambda lrs, losses: float(lrs[np.argmin(losses)] / 10), "pick_learning_rate").message
    assert "past the end of the fall" in message and "never turns up" in message and "A good choice lies" in message


def test_plot_feedback_names_the_missing_legend_and_the_epoch_axis():
    plot = checks.EXERCISES["plot_curves"]
    messages = {i: checks.run_check(w, "plot_curves").message for i, w in enumerate(plot.wrong_answers)}
    assert any("no legend" in m for m in messages.values())
    assert any("drawn against 0 .. 7 (the row index)" in m and "1 .. 8" in m for m in messages.values())
    assert any("x axis is labelled ''" in m for m in messages.values())


def test_overfit_feedback_tells_the_training_step_accuracy_from_the_measured_one():
    """A training step's own accuracy (dropout on, before its update) is not the accuracy on the batch afterwards."""
    wrong = checks.EXERCISES["overfit_one_batch"].wrong_answers[-1]  # returns the last train_on_batch accuracy
    message = checks.run_check(wrong, "overfit_one_batch").message
    assert "case 3/3" in message and "Dropout(rate=0.9)" in message and "training mode" in message


def test_augmentation_feedback_names_the_first_differing_layer_without_the_expected_stack():
    import keras

    def default_flip(rotation, zoom):  # RandomFlip's default mode also flips upside down
        return keras.Sequential([keras.layers.RandomFlip(), keras.layers.RandomRotation(rotation), keras.layers.RandomZoom(zoom)])

    message = checks.run_check(default_flip, "build_augmentation").message
    assert "layer 1 is RandomFlip(horizontal_and_vertical)" in message
    assert "expected:" not in message and "mode=horizontal)" not in message, "the first failure must not show the answer"
