"""FER+: ten crowd votes per FER2013 image, from Microsoft's ``fer2013new.csv``.

FER+ (Barsoum et al., 2016, https://github.com/microsoft/FERPlus) had every FER2013 image
relabelled by 10 annotators. ``fer2013new.csv`` has one row per row of ``fer2013.csv``, in the
same order::

    Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF

Each emotion column counts the votes for it; ``unknown`` means the annotator could not tell;
``NF`` (not a face) and an empty ``Image name`` mark images that are not faces. FER+ has
``contempt``, which FER2013 does not: an image whose majority is contempt has no course label.

This module is pure NumPy on the vote counts; :func:`helpers.data.load_fer2013` (with
``labels="ferplus"``) applies it to the loaded images.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .course import CLASS_NAMES, NUM_CLASSES

#: The vote columns of fer2013new.csv, in the file's order.
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
#: FER+ column -> CLASS_NAMES index (contempt, unknown and NF have none).
TO_CLASS = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
            "anger": "angry", "disgust": "disgust", "fear": "fear"}
VOTE_FILE = "fer2013new.csv"
HOW_TO_GET = (
    "FER+ votes: download fer2013new.csv from https://github.com/microsoft/FERPlus and put it beside fer2013.csv"
)
_CLASS_COLUMNS = [VOTE_COLUMNS.index(c) for c in sorted(TO_CLASS, key=lambda c: CLASS_NAMES.index(TO_CLASS[c]))]


@dataclass(frozen=True)
class Votes:
    """The votes of ``fer2013new.csv``, one row per row of ``fer2013.csv``.

    Attributes:
        counts: int64 ``(N, 10)`` votes in :data:`VOTE_COLUMNS` order.
        usage: str ``(N,)``: ``Training``, ``PublicTest`` or ``PrivateTest``.
        names: str ``(N,)``: FER+'s image name (``""`` = not a face).
        path: the file read.
    """

    counts: np.ndarray
    usage: np.ndarray
    names: np.ndarray
    path: str

    def rows(self, usage: str) -> np.ndarray:
        """Indices (0-based rows of the file, header not counted) of one ``Usage``."""
        return np.flatnonzero(self.usage == usage)


def find_vote_file(near: str | os.PathLike) -> Path | None:
    """``fer2013new.csv`` in the folder of ``near`` (a CSV file or a folder), any case; else None."""
    folder = Path(near) if Path(near).is_dir() else Path(near).parent
    if not folder.is_dir():
        return None
    return next((p for p in sorted(folder.iterdir()) if p.name.lower() == VOTE_FILE and p.is_file()), None)


def read_votes(path: str | os.PathLike) -> Votes:
    """Read ``fer2013new.csv`` (columns found by name; BOM, CRLF and extra columns tolerated).

    Raises:
        ValueError: a missing column or a vote that is not a whole number, naming the line.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        wanted = ["usage", "image name"] + [c.lower() for c in VOTE_COLUMNS]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise ValueError(f"{path}: not a FER+ vote file: no column(s) {', '.join(missing)} in line 1 ({','.join(header)})")
        where = [header.index(c) for c in wanted]
        usage, names, counts = [], [], []
        for row in reader:
            if not row:
                continue
            try:
                fields = [row[i] for i in where]
                counts.append([int(float(v)) if v.strip() else 0 for v in fields[2:]])
            except (IndexError, ValueError):
                raise ValueError(f"{path}: line {reader.line_num}: expected {len(header)} fields with whole-number votes") from None
            usage.append(fields[0].strip())
            names.append(fields[1].strip())
    return Votes(np.array(counts, np.int64).reshape(-1, len(VOTE_COLUMNS)), np.array(usage), np.array(names), str(path))


def majority(counts: np.ndarray, names: np.ndarray | None = None) -> tuple[np.ndarray, list[str | None]]:
    """The majority vote as a course label, or why there is none.

    Args:
        counts: int ``(N, 10)`` votes in :data:`VOTE_COLUMNS` order.
        names: optional FER+ image names; an empty name means "not a face".

    Returns:
        ``(labels, reasons)``: int64 ``(N,)`` CLASS_NAMES indices, ``-1`` where dropped, and per
        row ``None`` (kept) or the reason: ``"not a face"``, ``"no votes"``, ``"tie: a/b"``,
        ``"unknown"`` (most annotators could not tell), ``"contempt"`` (not a FER2013 class).
    """
    counts = np.asarray(counts)
    labels = np.full(len(counts), -1, np.int64)
    reasons: list[str | None] = []
    top = counts.max(axis=1) if len(counts) else np.zeros(0)
    for i, row in enumerate(counts):
        winners = np.flatnonzero(row == top[i])
        if (names is not None and not str(names[i])) or (len(winners) == 1 and VOTE_COLUMNS[winners[0]] == "NF"):
            reasons.append("not a face")
        elif top[i] <= 0:
            reasons.append("no votes")
        elif len(winners) > 1:
            reasons.append("tie: " + "/".join(VOTE_COLUMNS[w] for w in winners))
        elif VOTE_COLUMNS[winners[0]] in TO_CLASS:
            labels[i] = CLASS_NAMES.index(TO_CLASS[VOTE_COLUMNS[winners[0]]])
            reasons.append(None)
        else:
            reasons.append(VOTE_COLUMNS[winners[0]])
    return labels, reasons


def soft_labels(counts: np.ndarray) -> np.ndarray:
    """The vote distribution over the 7 course classes: float32 ``(N, 7)`` in CLASS_NAMES order.

    Votes for contempt, unknown and not-a-face are left out and each row is rescaled to sum
    to 1; a row without any vote for the 7 classes is all zeros.
    """
    course = np.asarray(counts, np.float64)[:, _CLASS_COLUMNS]
    total = course.sum(axis=1, keepdims=True)
    return np.divide(course, total, out=np.zeros_like(course), where=total > 0).astype(np.float32)


def count_reasons(reasons: list[str | None]) -> dict[str, int]:
    """How many rows were dropped for each reason (ties counted together), largest first."""
    out: dict[str, int] = {}
    for r in reasons:
        if r is not None:
            key = "tie" if r.startswith("tie") else r
            out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def disagreement(fer_labels: np.ndarray, counts: np.ndarray, names: np.ndarray | None = None) -> dict[str, object]:
    """How often FER2013's own label loses the FER+ vote, per class.

    Args:
        fer_labels: int ``(N,)`` FER2013 labels (CLASS_NAMES order) of the same rows as ``counts``.
        counts: int ``(N, 10)`` FER+ votes.

    Returns:
        ``compared`` (rows with a FER+ majority among the 7 classes), ``lost`` (of those, rows
        where it differs from FER2013's label), ``rate`` (lost / compared), ``per_class``
        (rate per FER2013 label, NaN where a class has no rows), ``dropped`` (reason -> count).
    """
    fer_labels = np.asarray(fer_labels)
    plus, reasons = majority(counts, names)
    kept = plus >= 0
    lost = kept & (plus != fer_labels)
    per_class = np.array([
        lost[kept & (fer_labels == c)].sum() / max(1, (kept & (fer_labels == c)).sum())
        if (kept & (fer_labels == c)).any() else np.nan
        for c in range(NUM_CLASSES)
    ])
    compared = int(kept.sum())
    return {"compared": compared, "lost": int(lost.sum()), "rate": lost.sum() / max(1, compared),
            "per_class": per_class, "dropped": count_reasons(reasons)}
