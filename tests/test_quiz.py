"""Self-check questions (helpers.checks.quiz): answers in every form a student writes, never a leaked answer."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.checks import quiz
from helpers.checks.quiz import Question


@pytest.fixture
def lesson(monkeypatch):
    items = [
        Question("Loss at initialisation with 7 classes?", answer=1.9459, why="ln 7.", tolerance=0.01),
        Question("Which split chooses the epoch?", answer="b", why="validation.", options=("test", "validation", "train")),
        Question("How many classes?", answer=7, why="FER2013 has 7."),
    ]
    monkeypatch.setitem(quiz.QUIZZES, "99", tuple(items))
    return "99"


def test_right_answers_in_every_form_a_student_writes(lesson):
    for answers in ({1: 1.95, 2: "b", 3: 7}, {"1": "1.946", "2": " B ", "3": 7.0}, {1: np.float32(1.9459), 2: "(b)", 3: np.int64(7)}):
        assert [s for _, s, _ in quiz.score(lesson, answers)] == ["pass"] * 3, answers


def test_wrong_missing_and_malformed_answers(lesson):
    got = quiz.score(lesson, {1: 2.3, 2: "z", 3: None})
    assert [s for _, s, _ in got] == ["fail", "fail", "not attempted"]
    assert "not one of the letters a, b, c" in got[1][2]
    got = quiz.score(lesson, {1: "about two", 2: "a", 3: True})
    assert [s for _, s, _ in got] == ["fail", "fail", "fail"]
    assert quiz.score(lesson, {})[0][1] == "not attempted"
    with pytest.raises(TypeError, match="must be a dict"):
        quiz.score(lesson, ["b"])
    with pytest.raises(KeyError, match="No self-check for lesson '42'"):
        quiz.score("42", {})


def test_a_default_tolerance_is_one_percent(lesson):
    assert quiz.score(lesson, {3: 7.05})[2][1] == "pass"
    assert quiz.score(lesson, {3: 7.1})[2][1] == "fail"


def test_self_check_never_prints_a_right_answer_but_reveal_does(lesson, capsys):
    quiz.self_check(lesson, {1: 2.5, 2: "a", 3: None, 9: "x"})
    out = capsys.readouterr().out
    assert "WRONG  question 1" in out and "TODO   question 3" in out and "0 of 3 right" in out
    assert "validation" not in out and "1.9459" not in out and "no question 9" in out
    quiz.reveal(lesson, 2)
    assert "(b) validation" in capsys.readouterr().out
    with pytest.raises(ValueError, match="questions 1-3"):
        quiz.reveal(lesson, 4)


def test_questions_are_validated():
    with pytest.raises(ValueError, match="not one of the letters"):
        Question("?", answer="d", why="", options=("x", "y"))
    with pytest.raises(ValueError, match="needs a number"):
        Question("?", answer="b", why="")
    with pytest.raises(ValueError, match="3 to 5"):
        quiz.questions("98", [Question("?", answer=1, why="")])


def test_every_lesson_has_three_to_five_questions():
    assert sorted(quiz.QUIZZES) == [f"{i:02d}" for i in range(10)]
    assert all(3 <= len(q) <= 5 for q in quiz.QUIZZES.values())


def test_a_fraction_or_a_rounded_number_is_right(lesson, monkeypatch):
    monkeypatch.setitem(quiz.QUIZZES, "97", (Question("F1?", answer=8 / 15, why="", tolerance=0.001),
                                             Question("a?", answer=0.5, why=""), Question("b?", answer=1, why="")))
    assert [s for _, s, _ in quiz.score("97", {1: "8/15"})][0] == "pass"
    assert [s for _, s, _ in quiz.score("97", {1: 0.53})][0] == "pass"  # 0.5333 to two decimals
    assert [s for _, s, _ in quiz.score("97", {1: 0.5})][0] == "fail"  # one significant digit is not the answer
    assert [s for _, s, _ in quiz.score("97", {1: 0.54})][0] == "fail"
    assert quiz.score("97", {1: "8/0"})[0][1] == "fail"
