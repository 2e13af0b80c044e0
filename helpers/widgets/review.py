"""Lesson 08: agree / wrong label / not a face, over the faces the model rejects."""

from __future__ import annotations

import io
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..course import CLASS_NAMES
from .core import _display, widgets_enabled


#: The three choices of :class:`LabelReview` and what each one does to a training face.
REVIEW_CHOICES = {"agree": "keep", "wrong label": "relabel", "not a face": "drop"}


def review_actions(decisions: Mapping[int, str], labels, predicted) -> "pd.DataFrame":
    """What a label review decided, as a relabel-or-drop list.

    Args:
        decisions: image index -> one of :data:`REVIEW_CHOICES` (``"agree"``, ``"wrong label"``,
            ``"not a face"``); images not reviewed are simply absent.
        labels: int ``(N,)`` the images' current labels; predicted: int ``(N,)`` the model's answers
            (a "wrong label" face gets the model's answer as its new label).

    Returns:
        a DataFrame indexed by image index (sorted): ``decision, action`` (keep / relabel / drop),
        ``label``, ``new_label`` (class names; empty for drop).

    Raises:
        ValueError: an unknown decision, an index outside the labels, or "wrong label" where the
            model agrees with the label (nothing to relabel to).
    """
    import pandas as pd

    labels, predicted = np.asarray(labels).astype(int), np.asarray(predicted).astype(int)
    rows = []
    for index, decision in sorted(decisions.items()):
        if decision not in REVIEW_CHOICES:
            raise ValueError(f"Image {index}: unknown decision {decision!r}; use one of {list(REVIEW_CHOICES)}")
        if not 0 <= int(index) < len(labels):
            raise ValueError(f"Image index {index} is outside the {len(labels)} labels")
        action = REVIEW_CHOICES[decision]
        label = CLASS_NAMES[labels[index]]
        if action == "relabel" and predicted[index] == labels[index]:
            raise ValueError(f"Image {index}: 'wrong label', but the model also says {label}; choose 'agree' or 'not a face'")
        new = {"keep": label, "relabel": CLASS_NAMES[predicted[index]], "drop": ""}[action]
        rows.append({"index": int(index), "decision": decision, "action": action, "label": label, "new_label": new})
    return pd.DataFrame(rows, columns=["index", "decision", "action", "label", "new_label"]).set_index("index")


def apply_review(images: np.ndarray, labels, actions: "pd.DataFrame") -> tuple[np.ndarray, np.ndarray]:
    """The training images and labels after a review: relabelled faces get ``new_label``, dropped ones are removed.

    Returns ``(images, labels)`` as new arrays (the inputs are not changed); order is kept.
    """
    labels = np.asarray(labels).astype(np.int64).copy()
    for index, row in actions[actions.action == "relabel"].iterrows():
        labels[index] = CLASS_NAMES.index(row.new_label)
    keep = np.ones(len(labels), bool)
    keep[actions.index[actions.action == "drop"].to_numpy(dtype=int)] = False
    return np.asarray(images)[keep], labels[keep]


def confident_disagreements(probs: np.ndarray, labels, indices: Iterable[int], confidence: float = 0.8) -> dict[int, str]:
    """A stand-in reviewer, for runs without a human: "wrong label" where the model gives its own
    (different) answer at least ``confidence``, else "agree". It never says "not a face"."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    out = {}
    for i in indices:
        guess = int(probs[i].argmax())
        out[int(i)] = "wrong label" if guess != labels[i] and probs[i, guess] >= confidence else "agree"
    return out


def _face_png(face: np.ndarray, size: int = 144) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(face)[:, :, 0].astype(np.uint8)).resize((size, size), Image.NEAREST).save(buffer, "png")
    return buffer.getvalue()


class LabelReview:
    """Review the faces a model rejects, one at a time: agree / wrong label / not a face (lesson 08).

    Args:
        images: uint8 ``(N, 48, 48, 1)``; labels: int ``(N,)``; probs: float ``(N, 7)`` the model's
            probabilities for these images.
        indices: the images to review, in order (e.g. the top of
            :func:`helpers.evaluation.label_rejections`).

    ``decisions`` (index -> choice) fills as the buttons are pressed; :meth:`actions` turns it into
    the relabel-or-drop list (:func:`review_actions`). :meth:`show` displays the widget (nothing
    without ipywidgets or with ``FER_WIDGETS=0``).
    """

    def __init__(self, images: np.ndarray, labels, probs: np.ndarray, indices: Sequence[int]):
        self.images, self.labels, self.probs = np.asarray(images), np.asarray(labels).astype(int), np.asarray(probs)
        self.predicted = self.probs.argmax(1)
        self.indices = [int(i) for i in indices]
        if not self.indices:
            raise ValueError("Nothing to review: pass the indices of at least one image")
        self.decisions: dict[int, str] = {}
        self.position = 0
        self.widget = None

    def decide(self, choice: str) -> None:
        """Record ``choice`` for the current face and move to the next (what each button does)."""
        if choice not in REVIEW_CHOICES:
            raise ValueError(f"Unknown decision {choice!r}; use one of {list(REVIEW_CHOICES)}")
        if self.position >= len(self.indices):
            return
        index = self.indices[self.position]
        if choice == "wrong label" and self.predicted[index] == self.labels[index]:
            choice = "agree"  # nothing to relabel to: the model agrees with the label
        self.decisions[index] = choice
        self.position += 1
        self._refresh()

    def tally(self) -> dict[str, int]:
        """How many faces got each choice so far."""
        return {c: sum(d == c for d in self.decisions.values()) for c in REVIEW_CHOICES}

    def actions(self) -> "pd.DataFrame":
        return review_actions(self.decisions, self.labels, self.predicted)

    def _refresh(self) -> None:
        if self.widget is None:
            return
        done = self.position >= len(self.indices)
        tally = ", ".join(f"{c}: {n}" for c, n in self.tally().items())
        if done:
            self.widget.caption.value = f"<b>All {len(self.indices)} faces reviewed.</b> {tally}"
        else:
            i = self.indices[self.position]
            self.image.value = _face_png(self.images[i])
            self.widget.caption.value = (
                f"face {self.position + 1} of {len(self.indices)} (image {i}): label <b>{CLASS_NAMES[self.labels[i]]}</b> "
                f"({self.probs[i, self.labels[i]]:.2f}), model says <b>{CLASS_NAMES[self.predicted[i]]}</b> "
                f"({self.probs[i, self.predicted[i]]:.2f})<br>so far: {tally}")
        for button in self.buttons:
            button.disabled = done

    def show(self):
        """Display the review widget; returns it (None when widgets are off)."""
        if not widgets_enabled():
            return None
        import ipywidgets as w

        self.image = w.Image(format="png", width=144, height=144)
        self.buttons = [w.Button(description=c, button_style=s) for c, s in
                        zip(REVIEW_CHOICES, ("success", "warning", "danger"))]
        for button in self.buttons:
            button.on_click(lambda b: self.decide(b.description))
        caption = w.HTML()
        self.widget = w.VBox([w.HBox([self.image, caption]), w.HBox(self.buttons)])
        self.widget.caption = caption
        self.widget.add_class("fer-label-review")
        self._refresh()
        _display(self.widget)
        return self.widget
