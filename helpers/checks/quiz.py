"""Self-check questions: three to five questions at the end of every lesson, answers revealed on demand.

In a lesson, after the questions (shown by :func:`show_questions`), the student writes an answer per
question and checks them all at once::

    self_check_answers = {
        1: "b",    # multiple choice: the option's letter
        2: 1.95,   # a number
    }
    helpers.checks.self_check("05", self_check_answers)

:func:`self_check` prints right / wrong / not answered per question, never the right answer;
:func:`reveal` shows a question's answer and why, when the student asks. :func:`score` is the pure
function behind both (and behind :mod:`helpers.grade`, which scores the answers outside the
student's kernel). Each lesson's questions are registered in its checks module with
:func:`questions`. This module imports no other course module.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

LETTERS = "abcdefgh"
#: Statuses of one answer, as :func:`score` reports them (the same words as an exercise check's).
STATUSES = ("pass", "fail", "not attempted")


@dataclass(frozen=True)
class Question:
    """One self-check question.

    ``text`` is Markdown. A multiple-choice question has ``options`` (lettered a, b, c, ... in this
    order) and ``answer`` is the right letter; a number question has no options and ``answer`` is a
    number, accepted within ``tolerance`` (absolute; 0 means 1 % of the answer). ``why`` is the
    explanation :func:`reveal` prints.
    """

    text: str
    answer: str | float
    why: str
    options: tuple[str, ...] = ()
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        if self.options:
            if not 2 <= len(self.options) <= len(LETTERS):
                raise ValueError(f"a multiple-choice question needs 2-{len(LETTERS)} options: {self.text!r}")
            if not (isinstance(self.answer, str) and self.answer in LETTERS[: len(self.options)]):
                raise ValueError(f"answer {self.answer!r} is not one of the letters of {self.text!r}")
        elif isinstance(self.answer, bool) or not isinstance(self.answer, (int, float)):
            raise ValueError(f"a question without options needs a number as its answer: {self.text!r}")

    @property
    def kind(self) -> str:
        """``"choice"`` or ``"number"``."""
        return "choice" if self.options else "number"

    def accepts(self, given: object) -> tuple[str, str]:
        """``(status, detail)`` for one answer: ``pass``, ``fail`` (detail: what is wrong with its form
        or that it is not right; never the right answer) or ``not attempted`` (``None``)."""
        if given is None or (isinstance(given, str) and not given.strip()):
            return "not attempted", "not answered yet"
        if self.options:
            letters = LETTERS[: len(self.options)]
            letter = re.sub(r"[\s().]", "", given).lower() if isinstance(given, str) else None
            if not letter or letter not in letters:
                return "fail", f"{given!r} is not one of the letters {', '.join(letters)}"
            return ("pass", "right") if letter == self.answer else ("fail", f"({letter}) is not right")
        value = _number(given)
        if value is None:
            return "fail", f"{given!r} is not a number (write it as 49000, 0.25 or 1/4)"
        if isinstance(given, bool) or not math.isfinite(value):
            return "fail", f"{given!r} is not a finite number"
        tolerance = self.tolerance or 0.01 * abs(float(self.answer))
        if abs(value - float(self.answer)) <= tolerance or _rounded_from(given, value, float(self.answer)):
            return "pass", "right"
        return "fail", f"{value:g} is not right"

    def markdown(self, number: int) -> str:
        """The question as Markdown: its number, its text and its lettered options (or "a number")."""
        lines = [f"**{number}.** {self.text}"]
        if self.options:
            lines += [f"   - ({letter}) {option}" for letter, option in zip(LETTERS, self.options)]
        else:
            lines[0] += " *(a number)*"
        return "\n".join(lines)


def _number(given: object) -> float | None:
    """``given`` as a number: a number, a numpy number, or a string such as ``"0.53"`` or ``"8/15"``."""
    if isinstance(given, str):
        given = given.strip().replace(",", "").replace("_", "")  # 49,000 as the course writes it
    if isinstance(given, str) and "/" in given:
        top, _, bottom = given.partition("/")
        try:
            return float(top) / float(bottom)
        except (ValueError, ZeroDivisionError):
            return None
    try:
        return float(given)
    except (TypeError, ValueError):
        return None


def _rounded_from(given: object, value: float, answer: float) -> bool:
    """Whether ``value`` is ``answer`` rounded to the decimals the student wrote (0.53 for 0.5333), when
    they wrote at least two significant digits."""
    text = given.strip() if isinstance(given, str) else repr(float(given)) if isinstance(given, float) else None
    if not text or "/" in text or "e" in text.lower():
        return False
    decimals = len(text.partition(".")[2])
    digits = len(text.replace("-", "").replace(".", "").lstrip("0"))
    return digits >= 2 and round(answer, decimals) == round(value, decimals)


#: Every lesson's questions, by lesson number ("00" ... "09").
QUIZZES: dict[str, tuple[Question, ...]] = {}


def questions(lesson: str, items: list[Question]) -> None:
    """Register a lesson's self-check questions (3 to 5 of them).

    Raises:
        ValueError: fewer than 3 or more than 5 questions, or ``lesson`` already has some.
    """
    if not 3 <= len(items) <= 5:
        raise ValueError(f"lesson {lesson}: a self-check has 3 to 5 questions, not {len(items)}")
    if lesson in QUIZZES:
        raise ValueError(f"lesson {lesson} already has its self-check questions")
    QUIZZES[lesson] = tuple(items)


def _quiz(lesson: str) -> tuple[Question, ...]:
    lesson = str(lesson).zfill(2)
    if lesson not in QUIZZES:
        raise KeyError(f"No self-check for lesson {lesson!r}. Lessons with one: {', '.join(sorted(QUIZZES))}")
    return QUIZZES[lesson]


def _answer(answers: dict, number: int) -> object:
    """The answer to question ``number``: keys may be ints (``1``) or strings (``"1"``)."""
    return answers.get(number, answers.get(str(number)))


def score(lesson: str, answers: dict) -> list[tuple[int, str, str]]:
    """Score a lesson's self-check answers.

    Args:
        lesson: "00" ... "09" (an int is accepted: 5 -> "05").
        answers: question number (1-based; int or str) -> the answer: a letter for a
            multiple-choice question, a number for the others, ``None`` when not answered.

    Returns:
        ``[(number, status, detail), ...]`` for every question in order; ``status`` is one of
        :data:`STATUSES`. A ``detail`` never gives the right answer.

    Raises:
        KeyError: no self-check is registered for ``lesson``.
        TypeError: ``answers`` is not a dict.
    """
    quiz = _quiz(lesson)
    if not isinstance(answers, dict):
        raise TypeError(f"self_check_answers must be a dict such as {{1: 'b', 2: 0.5}}, not {type(answers).__name__}")
    return [(i, *q.accepts(_answer(answers, i))) for i, q in enumerate(quiz, 1)]


def show_questions(lesson: str) -> None:
    """Show a lesson's questions: Markdown in a notebook, plain text elsewhere."""
    text = "\n\n".join(q.markdown(i) for i, q in enumerate(_quiz(lesson), 1))
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text))
            return
    except ImportError:  # pragma: no cover - IPython is always there in a notebook
        pass
    print(text)


def self_check(lesson: str, answers: dict) -> None:
    """Print, per question, whether the answer is right, wrong or missing, and how many are right.

    Never prints a right answer: :func:`reveal` does, when asked.
    """
    results = score(lesson, answers)
    marks = {"pass": "RIGHT", "fail": "WRONG", "not attempted": "TODO "}
    for number, status, detail in results:
        print(f"{marks[status]}  question {number}: {detail}")
    known = {str(n) for n, _, _ in results}
    extra = sorted(str(k) for k in answers if str(k) not in known)
    if extra:
        print(f"  (no question {', '.join(extra)} in this self-check: its questions are 1-{len(results)})")
    right = sum(status == "pass" for _, status, _ in results)
    print(f"{right} of {len(results)} right."
          + (f" To see an answer and why: helpers.checks.reveal({str(lesson).zfill(2)!r}, number)." if right < len(results) else ""))


def reveal(lesson: str, number: int | None = None) -> None:
    """Print the answer to question ``number`` (default: every question) and why it is right."""
    quiz = _quiz(lesson)
    chosen = range(1, len(quiz) + 1) if number is None else [number]
    for i in chosen:
        if not 1 <= i <= len(quiz):
            raise ValueError(f"lesson {lesson}'s self-check has questions 1-{len(quiz)}, not {i}")
        q = quiz[i - 1]
        answer = f"({q.answer}) {q.options[LETTERS.index(q.answer)]}" if q.options else f"{q.answer:g}"
        print(f"question {i}: {answer}\n  why: {q.why}")
