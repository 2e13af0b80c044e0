"""The course's data containers and its split protocol: train to fit, val to choose, test once.

:class:`Split` (one split's images and labels) and :class:`FER2013Data` (what
:func:`helpers.data.load_fer2013` returns) live here, with the protocol lesson 01 teaches:
:func:`course_splits` carves a twin-free validation split, :class:`LockedSplit` keeps the test
split shut until :func:`final_test` opens it. Nothing here reads files (that is :mod:`helpers.data`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

from .course import CLASS_NAMES, NUM_CLASSES, SEED


@dataclass(frozen=True)
class Split:
    """One split: ``images`` uint8 ``(N, 48, 48, 1)`` and ``labels`` int64 ``(N,)`` in CLASS_NAMES order.

    ``soft_labels`` (float32 ``(N, 7)``, rows sum to 1) is the FER+ vote distribution when the
    data was loaded with ``labels="ferplus"``, else None.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    soft_labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> np.ndarray:
        """Number of images per class, in CLASS_NAMES order."""
        return np.bincount(self.labels, minlength=NUM_CLASSES)

    def subset(self, index: np.ndarray, name: str | None = None) -> "Split":
        """The images at ``index`` as a new split."""
        soft = None if self.soft_labels is None else self.soft_labels[index]
        return Split(name or self.name, self.images[index], self.labels[index], soft)


@dataclass
class FER2013Data:
    """What :func:`load_fer2013` returns.

    Attributes:
        splits: the source's own splits by name: ``train`` and ``test`` for the image folders
            and the offline data; ``train``, ``public_test`` and ``private_test`` for the CSV.
        source: ``"folders"``, ``"csv"`` or ``"offline"``.
        location: where it was read from (a path, or a description of the offline data).
        skipped: ``(file or line, reason)`` for every item that could not be read. Nothing is
            dropped without appearing here.
    """

    splits: dict[str, Split]
    source: str
    location: str
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_offline(self) -> bool:
        return self.source == "offline"

    def __getitem__(self, name: str) -> Split:
        try:
            return self.splits[name]
        except KeyError:
            raise KeyError(f"No split {name!r}; this data has {sorted(self.splits)}") from None

    def summary(self):
        """Images per class and split as a pandas DataFrame (classes as rows)."""
        import pandas as pd

        table = pd.DataFrame({n: s.counts() for n, s in self.splits.items()}, index=list(CLASS_NAMES))
        table.loc["total"] = table.sum()
        return table

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={len(s)}" for n, s in self.splits.items())
        return f"FER2013Data(source={self.source!r}, {sizes}, skipped={len(self.skipped)}, location={self.location!r})"


# --------------------------------------------------------------------------- the course protocol


def class_counts(labels: np.ndarray) -> np.ndarray:
    """Images per class, in CLASS_NAMES order (length 7 even when a class is missing)."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=NUM_CLASSES)


def stratified_split(split: Split, fraction: float, seed: int = SEED) -> tuple[Split, Split]:
    """Split off ``fraction`` of ``split`` with the same class proportions (seeded)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(split))
    keep, held = train_test_split(index, test_size=fraction, stratify=split.labels, random_state=seed)
    return split.subset(np.sort(keep)), split.subset(np.sort(held))


def pixel_hashes(images: np.ndarray) -> np.ndarray:
    """SHA-1 of each image's pixel bytes, as 40-character hex strings, shape ``(N,)``.

    ``images``: uint8 ``(N, 48, 48, 1)`` (any shape with a leading axis). Two images have the
    same hash exactly when their pixels are identical ("pixel twins")."""
    return np.array([hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest() for image in images], dtype="<U40")


def has_twin_in(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Bool ``(N,)``: which of ``images`` has an exact pixel twin among ``reference`` (uint8 arrays)."""
    return np.isin(pixel_hashes(images), pixel_hashes(reference))


def twin_free_split(split: Split, fraction: float, seed: int = SEED) -> tuple[Split, Split]:
    """Carve a validation split off ``split`` with no pixel twin of a training face in it.

    First the stratified, seeded split of :func:`stratified_split`; then every held-out face whose
    pixels also occur among the kept faces moves to the kept side. So every group of identical
    images ends up whole on one side, and the validation faces are a subset of the plain
    stratified split's (a model trained on that split never saw one of them). Moving the twins
    shifts the class shares by a fraction of a percent (lesson 01 shows the counts).
    Returns ``(train, val)``, each in the source's order.
    """
    from sklearn.model_selection import train_test_split

    index = np.arange(len(split))
    keep, held = train_test_split(index, test_size=fraction, stratify=split.labels, random_state=seed)
    hashes = pixel_hashes(split.images)
    twin = np.isin(hashes[held], hashes[keep])
    keep, held = np.concatenate([keep, held[twin]]), held[~twin]
    return split.subset(np.sort(keep)), split.subset(np.sort(held))


def move_twins_to_train(train: Split, val: Split) -> tuple[Split, Split]:
    """``(train + val faces that have a pixel twin in train, the other val faces)``."""
    twin = has_twin_in(val.images, train.images)
    if not twin.any():
        return train, val
    moved = val.subset(np.flatnonzero(twin))
    return (Split(train.name, np.concatenate([train.images, moved.images]), np.concatenate([train.labels, moved.labels])),
            val.subset(np.flatnonzero(~twin)))


def course_splits(data: FER2013Data, val_fraction: float = 0.1, seed: int = SEED) -> dict[str, Split]:
    """The course protocol: ``train`` to fit, ``val`` to choose, ``test`` only for final numbers.

    * CSV with all three usages: train = Training, val = PublicTest, test = PrivateTest.
    * Otherwise (image folders, offline data, partial CSV): val is a stratified, seeded
      ``val_fraction`` carved out of the training split (or the source's own ``val/`` folder if
      it has one), and test is the source's test split (Kaggle's ``test/`` folder, which merges
      PublicTest and PrivateTest in some copies; a CSV's PrivateTest, else its PublicTest).

    No validation face has a pixel twin in ``train``: such faces go to ``train``
    (:func:`twin_free_split`, :func:`move_twins_to_train`), so validation measures faces the model
    has not seen. The test split is the source's, twins included (as in published results);
    :func:`has_twin_in` finds them. With ``FER_LOCK_TEST=1`` the test split comes back as a
    :class:`LockedSplit` that only :func:`final_test` opens.
    """
    s = data.splits
    if {"train", "public_test", "private_test"} <= set(s):
        train, val = move_twins_to_train(s["train"], s["public_test"])
        out = {"train": train, "val": val, "test": s["private_test"]}
    else:
        test = next((s[n] for n in ("test", "private_test", "public_test") if n in s), None)
        if "train" not in s or test is None:
            raise ValueError(f"Need a training and a test split, found {sorted(s)} in {data.location}")
        if "val" in s:  # the source has its own validation folder: use it
            train, val = move_twins_to_train(s["train"], s["val"])
        else:
            train, val = twin_free_split(s["train"], val_fraction, seed)
        out = {"train": train, "val": val, "test": test}
    out = {name: Split(name, sp.images, sp.labels) for name, sp in out.items()}
    if os.environ.get("FER_LOCK_TEST") == "1":
        out["test"] = LockedSplit(out["test"])
    return out


class LockedSplit:
    """The test split before its time: touching its images or labels raises.

    What :func:`course_splits` returns for ``test`` when the environment variable
    ``FER_LOCK_TEST=1`` is set (the course's tests set it to prove that lessons 06-08 read the
    test split only in their marked final cell). ``len()`` and ``name`` stay readable;
    :func:`final_test` returns the real :class:`Split`.
    """

    def __init__(self, split: Split) -> None:
        self._split = split
        self.name = split.name

    def __len__(self) -> int:
        return len(self._split)

    def __getattr__(self, attribute: str):
        raise RuntimeError(
            f"The test split is locked (FER_LOCK_TEST=1): .{attribute} was read before the final cell. "
            "Make choices on splits['val']; open the test split once with helpers.final_test(splits)."
        )


def final_test(splits: dict[str, "Split | LockedSplit"]) -> Split:
    """The test split, for the final numbers: the one call that opens a :class:`LockedSplit`.

    ``splits`` is what :func:`load_course_data` or :func:`course_splits` returned. Without
    ``FER_LOCK_TEST`` the test split is an ordinary :class:`Split` and comes back as it is."""
    test = splits["test"]
    return test._split if isinstance(test, LockedSplit) else test


def balanced_subset(split: Split, per_class: int, seed: int = SEED) -> Split:
    """At most ``per_class`` images of each class, chosen at random (seeded), in a stable order."""
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(split.labels == c), size=min(per_class, int((split.labels == c).sum())), replace=False)
        for c in range(NUM_CLASSES)
    ]
    return split.subset(np.sort(np.concatenate(chosen)))
