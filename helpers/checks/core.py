"""The exercise-check machinery: run a student's function against the reference on several cases.

In a lesson, each exercise is a function to complete, followed by a check cell::

    class_counts = check(class_counts)

``check`` looks the exercise up by the function's name, calls it and the reference on every
case (some of them edge cases the student does not see in the notebook) and prints a clear
pass, or the first failing case with its input, the expected value and what came back. It
returns the student's function when it passes and the reference otherwise, so the rest of the
notebook always runs (which is what CI relies on).

Exercises are registered with :func:`exercise`, one module per lesson
(:mod:`helpers.checks.lesson00` ... :mod:`helpers.checks.lesson09`). Every check's outcome is
also appended to the file named by ``FER_CHECK_LOG`` (:func:`_record`), which is how
:mod:`helpers.grade` collects a class's results. This module imports no other course module.
"""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class Exercise:
    """One exercise: its reference answer, the cases it is checked on, and plausible wrong answers.

    ``cases`` is a list of argument tuples. ``compare(expected, got)`` decides equality (default:
    :func:`same`). ``wrong_answers`` are mistakes students make; the test suite proves the check
    catches each of them.
    """

    name: str
    reference: Callable
    cases: Callable[[], list[tuple]]
    compare: Callable[[Any, Any], bool]
    wrong_answers: list[Callable] = field(default_factory=list)
    hint: str = ""
    #: Instead of comparing with the reference's answer: ``verify(args, got)`` returns ``None`` when
    #: ``got`` is right, else what is wrong (for answers with many right forms: a training run, a choice).
    verify: Callable[[tuple, Any], str | None] | None = None


EXERCISES: dict[str, Exercise] = {}
#: Failed checks per exercise in this session: the second failure shows the code, the first only the idea.
FAILURES: dict[str, int] = {}


def same(expected: Any, got: Any, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    """Equal values, arrays or containers; floats compared with a tolerance."""
    if isinstance(expected, dict):
        return isinstance(got, dict) and expected.keys() == got.keys() and all(same(expected[k], got[k], rtol, atol) for k in expected)
    if isinstance(expected, (list, tuple)) and isinstance(got, np.ndarray):
        try:
            as_array = np.asarray(expected)
        except ValueError:  # ragged: no array can equal it
            return False
        return same(as_array, got, rtol, atol)  # the same numbers as an array: also right
    if isinstance(expected, (list, tuple)):
        return isinstance(got, (list, tuple)) and len(expected) == len(got) and all(same(e, g, rtol, atol) for e, g in zip(expected, got))
    if isinstance(expected, (np.ndarray, np.generic, int, float)) and not isinstance(expected, bool):
        try:
            e, g = np.asarray(expected), np.asarray(got)
        except Exception:
            return False
        if e.shape != g.shape or g.dtype == object:
            return False
        if np.issubdtype(e.dtype, np.number) and np.issubdtype(g.dtype, np.number):
            return bool(np.allclose(e, g, rtol=rtol, atol=atol, equal_nan=True))
        return bool(np.array_equal(e, g))
    if isinstance(got, np.ndarray):  # e.g. a string or a bool against an array: never the same
        return False
    try:
        return bool(expected == got)
    except (TypeError, ValueError):  # no single truth value
        return False


def exercise(
    cases: Callable[[], list[tuple]],
    compare: Callable[[Any, Any], bool] = same,
    wrong_answers: list[Callable] | None = None,
    hint: str = "",
    verify: Callable[[tuple, Any], str | None] | None = None,
) -> Callable[[Callable], Callable]:
    """Decorator registering a reference answer as the exercise of the same name.

    ``hint`` gives the idea (shown at the first failure); the reference's code is shown only at a
    second failure or on request (:func:`hint`). ``verify``: see :class:`Exercise`.
    """

    def register(reference: Callable) -> Callable:
        EXERCISES[reference.__name__] = Exercise(reference.__name__, reference, cases, compare, wrong_answers or [], hint, verify)
        return reference

    return register


@dataclass
class Result:
    """Outcome of a check: ``status`` is ``"pass"``, ``"fail"`` or ``"not attempted"``."""

    name: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def describe_keras(value: Any) -> str | None:
    """What a check compares in a Keras object, in words; ``None`` if ``value`` is not one.

    A model: its layers, one per line (type, output shape, parameters, the settings that matter);
    an optimizer: its type and learning rate; a loss: its type, ``from_logits`` and label smoothing;
    a Sequential of augmentation layers: each layer and its factors.
    """
    module = type(value).__module__ or ""
    if not module.startswith("keras"):
        return None
    import keras

    if isinstance(value, keras.optimizers.Optimizer):
        return f"{type(value).__name__}(learning_rate={float(np.asarray(value.learning_rate)):.3g})"
    if isinstance(value, keras.losses.Loss):
        config = value.get_config()
        return (f"{type(value).__name__}(from_logits={config.get('from_logits', False)}, "
                f"label_smoothing={config.get('label_smoothing', 0.0)})")
    if isinstance(value, keras.Model):
        params = f"{value.count_params():,} parameters" if value.built else "not built yet (no input shape)"
        lines = [f"{type(value).__name__} with {len(layer_table(value))} layers, {params}:"]
        lines += [f"    {i}. {row}" for i, row in enumerate(layer_table(value), 1)]
        return "\n".join(lines)
    if isinstance(value, keras.layers.Layer):
        return _layer_line(value)
    return None


def _layer_line(layer: Any) -> str:
    """One layer in words: type, the settings that matter, output shape and parameters."""
    config = layer.get_config()
    keys = ("filters", "kernel_size", "strides", "padding", "use_bias", "activation", "units", "rate", "pool_size",
            "scale", "offset", "mode", "factor", "height_factor", "width_factor")
    settings = ", ".join(f"{k}={config[k]}" for k in keys if k in config and config[k] is not None)
    try:
        shape = tuple(layer.output.shape[1:])
    except (AttributeError, ValueError):
        shape = "?"
    params = layer.count_params() if layer.built else 0
    return f"{type(layer).__name__}({settings}) -> {shape}, {params:,} parameters"


def layer_table(model: Any) -> list[str]:
    """:func:`_layer_line` for every layer of ``model`` but its input."""
    import keras

    return [_layer_line(l) for l in model.layers if not isinstance(l, keras.layers.InputLayer)]


def _short(value: Any, limit: int = 300) -> str:
    """``value`` in words for a check's message: Keras objects by what is compared, arrays by shape and
    their first values, an ``(images, labels)`` pair by its shapes and images per class, a small table whole."""
    keras_text = describe_keras(value)
    if keras_text is not None:
        return keras_text
    table = _table_text(value)
    if table is not None:
        return table
    if _is_images_and_labels(value):
        images, labels = value
        counts = np.bincount(labels.astype(np.int64), minlength=7).tolist() if len(labels) and labels.min() >= 0 else "?"
        return (f"(images {_array_text(images)}, labels {_array_text(labels)}; "
                f"images per class {counts})")
    if isinstance(value, tuple) and value and any(isinstance(v, np.ndarray) or describe_keras(v) is not None for v in value):
        return "(" + ", ".join(_short(v, limit) for v in value) + ")"
    if hasattr(value, "images") and hasattr(value, "labels") and hasattr(value, "name"):  # a data Split
        return f"Split {value.name!r}: {len(value.labels)} faces {tuple(np.shape(value.images)[1:])}, classes {np.bincount(value.labels, minlength=7).tolist()}"
    text = _array_text(value) if isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= limit or (isinstance(value, np.ndarray) and "\n" in text) else text[:limit] + " ..."


def _array_text(value: np.ndarray, show: int = 6) -> str:
    """A small array on one line; a larger one as its shape, dtype and first values (6 significant digits)."""
    if value.size <= 20 and value.ndim <= 1:
        return "array(" + np.array2string(value, separator=", ", max_line_width=10**6, precision=6) + ")"
    if value.ndim == 2 and value.shape[0] <= 8 and value.shape[1] <= 8:  # e.g. a confusion matrix: whole, one row a line
        return f"array of shape {value.shape}:\n" + _indent(np.array2string(value, max_line_width=10**6, precision=4))
    flat = value.ravel()[:show]
    first = ", ".join(f"{v:.6g}" if np.issubdtype(value.dtype, np.floating) else str(v) for v in flat.tolist())
    return f"array(shape={value.shape}, dtype={value.dtype}, first values [{first}, ...])"


def _is_images_and_labels(value: Any) -> bool:
    """An ``(images, labels)`` pair: an array of images and one integer label per image."""
    return (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, np.ndarray) for v in value)
            and value[0].ndim >= 2 and value[1].ndim == 1 and np.issubdtype(value[1].dtype, np.integer))


def _table_text(value: Any, max_rows: int = 40) -> str | None:
    """A pandas DataFrame or Series: whole (indented, on lines of its own) when it has at most ``max_rows`` rows."""
    if type(value).__module__.split(".")[0] != "pandas" or not hasattr(value, "to_string"):
        return None
    kind = type(value).__name__
    if len(value) > max_rows:
        shown = value.head(5).to_string(float_format=lambda v: f"{v:.4g}")
        return f"{kind} with {len(value)} rows; the first 5:\n" + _indent(shown)
    return f"{kind}:\n" + _indent(value.to_string(float_format=lambda v: f"{v:.4g}"))


def _indent(text: str, by: str = "      ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def array_difference(expected: Any, got: Any, show: int = 4) -> str:
    """Where two same-shaped numeric arrays first differ and by how much at most ("" if not comparable).

    Shows ``show`` values from the first differing index on, with 6 significant digits, so that
    small systematic differences (e.g. a moving average started another way) are visible.
    """
    try:
        e, g = np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return ""
    if e.shape != g.shape or e.size == 0:
        return f"  shapes: expected {e.shape}, got {g.shape}" if e.shape != g.shape else ""
    bad = ~np.isclose(e, g, rtol=1e-6, atol=1e-8, equal_nan=True)
    if not bad.any():
        return ""
    flat = int(np.flatnonzero(bad.ravel())[0])
    where = np.unravel_index(flat, e.shape)
    with np.errstate(invalid="ignore"):
        gap = np.where(bad, np.abs(e - g), 0.0)  # NaN where one of them is NaN and the other not
    gap = np.where(np.isnan(gap), np.inf, gap)  # a NaN against a number: the largest difference there is
    worst = np.unravel_index(int(np.argmax(gap)), e.shape)
    fmt = lambda a: "[" + ", ".join(f"{v:.6g}" for v in a.ravel()[flat:flat + show]) + (", ..." if flat + show < a.size else "") + "]"
    largest = f"largest difference {float(gap[worst]):.4g}" if np.isfinite(gap[worst]) else "a NaN against a number"
    return (f"  first difference at index {tuple(int(i) for i in where)} ({int(bad.sum())} of {e.size} values differ); "
            f"{largest} at index {tuple(int(i) for i in worst)}\n"
            f"  from there, expected: {fmt(e)}\n  from there, got:      {fmt(g)}")


def run_check(answer: Callable, name: str | None = None, cases: list[tuple] | None = None) -> Result:
    """Check ``answer`` against the exercise registered under ``name`` (default: its ``__name__``).

    ``cases``: the exercise's cases, already made (default: ``cases()`` of the exercise); the grader
    passes the very objects it sent to its worker (:mod:`helpers.grade_trust`).
    """
    name = name or getattr(answer, "__name__", "")
    if name not in EXERCISES:
        raise KeyError(f"No exercise called {name!r}. Known: {', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[name]
    cases = ex.cases() if cases is None else cases
    names = _parameter_names(ex.reference)
    for i, args in enumerate(cases, 1):
        expected = ex.reference(*args) if ex.verify is None else None
        try:
            got = answer(*_copy(args))
        except NotImplementedError:
            return Result(name, "not attempted", f"{name}: not attempted yet.")
        except Exception as exc:
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return Result(name, "fail", f"{name}: case {i}/{len(cases)} raised {tb}\n  input:    {_describe(args, names)}")
        if got is None and (expected is not None or ex.verify is not None):
            return Result(name, "not attempted", f"{name}: returned None; did you forget `return`? (not attempted yet)")
        if ex.verify is not None:  # many right answers: check what this one did
            try:
                problem = ex.verify(args, got)
            except Exception as exc:
                problem = "checking it raised " + traceback.format_exception_only(type(exc), exc)[-1].strip()
            if problem:
                return Result(name, "fail", f"{name}: case {i}/{len(cases)} is wrong.\n  input:    {_describe(args, names)}\n  {problem}")
            continue
        try:
            right = ex.compare(expected, got)
        except ValueError as exc:  # the compare's own words on what differs
            right, why = False, f"what differs: {exc}"
        except Exception as exc:  # an answer of an unexpected type: a clear FAIL, never a crashed cell
            right, why = False, f"({traceback.format_exception_only(type(exc), exc)[-1].strip()})"
        else:
            why = ""
        if not right:
            difference = array_difference(expected, got) if isinstance(expected, np.ndarray) else ""
            return Result(
                name,
                "fail",
                f"{name}: case {i}/{len(cases)} is wrong.\n  input:    {_describe(args, names)}\n"
                # a Keras object whose compare says what differs: its whole expected layer list would be the answer
                + ("" if why.startswith("what differs") and describe_keras(expected) is not None
                   else f"  expected: {_short(expected)}\n")
                + f"  got:      {_short(got)}" + (f"\n  {why}" if why else "")
                + (f"\n{difference}" if difference else ""),
            )
    return Result(name, "pass", f"{name}: all {len(cases)} cases pass (including hidden edge cases).")


def _copy(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _describe(args: tuple, names: list[str] | None = None) -> str:
    """The case's arguments, named as the reference names them; a multi-line one (a table) on lines of its own."""
    if not names or len(names) != len(args):
        names = [f"argument {i}" for i in range(1, len(args) + 1)]
    parts = [f"{n} = {_short(a, 160)}" for n, a in zip(names, args)]
    if any("\n" in p for p in parts):
        return "one a line:\n" + "\n".join("    " + p.replace("\n", "\n    ") for p in parts)
    return ", ".join(parts)


def _parameter_names(function: Callable) -> list[str] | None:
    import inspect

    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature
        return None
    plain = all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
    return [p.name for p in parameters] if plain else None


def _record(result: Result) -> None:
    """Append the outcome as one JSON line to the file named by ``FER_CHECK_LOG``, if set.

    This is how :mod:`helpers.grade` collects a class's results: the kernel that runs a
    submitted notebook gets ``FER_CHECK_LOG`` pointing at a file of its own.
    """
    log = os.environ.get("FER_CHECK_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"exercise": result.name, "status": result.status, "detail": result.message}) + "\n")


#: The code of each exercise's last failed answer: re-running the same code (Run All) is not another try.
_LAST_FAILED: dict[str, object] = {}


def _fingerprint(answer: Callable) -> object:
    """What identifies an answer's code (its bytecode and constants); None for a callable without code."""
    code = getattr(answer, "__code__", None)
    return None if code is None else (code.co_code, repr(code.co_consts), code.co_names)


def check(answer: Callable, name: str | None = None) -> Callable:
    """Check an exercise, print the verdict, and return what the rest of the notebook should use.

    Returns ``answer`` if it passes, otherwise the reference answer (so the notebook continues).
    Hints come in tiers: the first failure gives the idea, the failure of a changed answer (or
    :func:`hint`) the code; the same code checked again counts as the same try.
    """
    result = run_check(answer, name)
    _record(result)
    ex = EXERCISES[result.name]
    if result.passed:
        print(f"PASS  {result.message}")
        return answer
    if result.status == "not attempted":
        print(f"TODO  {result.message} The notebook continues with the reference answer.")
    else:
        fingerprint = _fingerprint(answer)
        if fingerprint is None or fingerprint != _LAST_FAILED.get(ex.name):  # the same code run again is no new try
            FAILURES[ex.name] = FAILURES.get(ex.name, 0) + 1
        _LAST_FAILED[ex.name] = fingerprint
        print(f"FAIL  {result.message}")
        if FAILURES[ex.name] == 1:
            if ex.hint:
                print(f"  hint: {ex.hint}")
            print(f"  Stuck after another try? A changed answer that fails again shows a solution, or now: helpers.checks.hint({ex.name!r}).")
        else:
            print(_solution_text(ex))
        print("  The notebook continues with the reference answer; fix yours and re-run the check.")
    return ex.reference


def _solution_cell(name: str) -> str | None:
    """The solution notebook's answer to exercise ``name`` (its cell in ``solutions/``, markers removed), or
    None where the course's ``solutions/`` is not beside this package (an installed copy, the grader's)."""
    import json
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "solutions"
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        for cell in cells:
            source = "".join(cell.get("source", []))
            if cell.get("cell_type") == "code" and "# BEGIN SOLUTION" in source and f"def {name}(" in source:
                return "\n".join(l for l in source.splitlines() if l.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION"))
    return None


def _solution_text(ex: Exercise) -> str:
    """A solution's code (what the second hint shows): the solution notebook's cell where it is at hand
    (written from first principles, as the exercise asks), else the reference answer's source."""
    import inspect

    cell = _solution_cell(ex.name)
    if cell is not None:
        return "  a solution (one of several possible; solutions/ has it too):\n" + "\n".join("    " + l for l in cell.splitlines())
    try:
        source = inspect.getsource(ex.reference)
    except (OSError, TypeError):  # pragma: no cover - no source (a frozen install)
        return f"  (no source available for {ex.name}; see the solutions/ notebook)"
    import importlib
    import re

    lines = source.splitlines()
    start = next(i for i, l in enumerate(lines) if l.lstrip().startswith("def "))
    text = "\n".join("    " + l for l in lines[start:])
    helper = re.search(r"from \.+(\w+) import (\w+) as reference", source)
    if helper:  # the reference calls the course's own function: show that one
        try:
            function = getattr(importlib.import_module(f"helpers.{helper.group(1)}"), helper.group(2))
            text = "\n".join("    " + l for l in inspect.getsource(function).splitlines())
        except (ImportError, AttributeError, OSError, TypeError):  # pragma: no cover
            pass
    # the references live inside the package (relative imports); shown, they must run in a notebook
    text = re.sub(r"from \.+(\w+) import", r"from helpers.\1 import", text)
    return "  a solution (one of several possible):\n" + text


def hint(name: str, code: bool = True) -> None:
    """Print an exercise's hint (the idea), and with ``code=True`` a solution's code too."""
    if name not in EXERCISES:
        raise KeyError(f"No exercise called {name!r}. Known: {', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[name]
    print(f"hint for {name}: {ex.hint or 'read the exercise text and the docstring again.'}")
    if code:
        print(_solution_text(ex))
