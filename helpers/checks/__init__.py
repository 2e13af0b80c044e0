"""Exercise checks used in every lesson: ``answer = helpers.checks.check(answer)``.

* :mod:`helpers.checks.core`: the machinery: :func:`check`, :func:`run_check`, :func:`hint`,
  :func:`same`, the registry :data:`EXERCISES` and the ``FER_CHECK_LOG`` record.
* :mod:`helpers.checks.lesson00` ... :mod:`helpers.checks.lesson09`: each lesson's exercises:
  the reference answer, the cases (hidden edge cases included) and the wrong answers a check
  must catch, and its self-check questions. Importing this package registers them all.
* :mod:`helpers.checks.quiz`: the self-check questions at the end of every lesson:
  :func:`self_check` (right / wrong per question), :func:`reveal` (an answer and why, on demand),
  :func:`show_questions`, and :func:`~helpers.checks.quiz.score` behind them.

A new exercise goes in its lesson's module, with ``@exercise(cases=..., wrong_answers=[...])``.
"""

from .core import EXERCISES, FAILURES, Exercise, Result, check, exercise, hint, run_check, same
from .quiz import QUIZZES, Question, reveal, self_check, show_questions
from . import lesson00, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08, lesson09  # noqa: F401,E402  (registers every lesson's exercises)

__all__ = ["EXERCISES", "FAILURES", "Exercise", "Result", "check", "exercise", "hint", "run_check", "same",
           "QUIZZES", "Question", "reveal", "self_check", "show_questions"]
