"""Course-wide settings: class order, run mode (quick/workshop/full), seeding, where runs are saved. The bottom layer: imports no other course module
(but :mod:`helpers.quiet`, which must load first). The banner every notebook shows first is :mod:`helpers.session`."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import quiet  # noqa: F401  (first: TensorFlow's start-up logs silenced before anything loads it)

#: The canonical class order: FER2013's own label indices (0 angry ... 6 neutral).
#: Every loader, model output and plot in the course uses this order.
CLASS_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES: int = len(CLASS_NAMES)
IMAGE_SIZE: int = 48
SEED: int = 42

#: Where the course lives, used by the Colab setup cells and the "Open in Colab" badges.
REPO_URL = "https://github.com/fer-course/fer2013-course"
COLAB_URL = "https://colab.research.google.com/github/fer-course/fer2013-course/blob/main/"


#: The course's folder: a clone (in Colab the cloned ``fer-course/``) or the unpacked download.
COURSE_ROOT: Path = Path(__file__).resolve().parents[1]

#: The three ways a notebook can run (``FER_MODE``): what each is for.
MODES: dict[str, str] = {
    "quick": "small class-balanced subsets, tiny epochs: checks that the code runs (CI, tests), numbers mean little",
    "workshop": "a class on laptops: every training cell at most about 5 minutes on 2 CPU cores, and it visibly learns",
    "full": "the whole data and the lesson's full budget (a GPU helps)",
}


def run_mode() -> str:
    """How notebooks run: ``"quick"``, ``"workshop"`` or ``"full"`` (default).

    Read from the environment variable ``FER_MODE`` (case and surrounding spaces ignored);
    ``FER_QUICK=1`` (also true/yes/on) still means ``"quick"``, and wins over ``FER_MODE``.

    Raises:
        ValueError: ``FER_MODE`` is set to something else, with the values it may take.
    """
    if os.environ.get("FER_QUICK", "").strip().lower() in {"1", "true", "yes", "on"}:
        return "quick"
    mode = os.environ.get("FER_MODE", "").strip().lower() or "full"
    if mode not in MODES:
        raise ValueError(f"FER_MODE={os.environ['FER_MODE']!r} is not a mode of the course. Set FER_MODE to one of "
                         f"{', '.join(MODES)} (or unset it for full), e.g. os.environ['FER_MODE'] = 'workshop' "
                         "before the setup cell, or FER_MODE=workshop in the shell that starts Jupyter.")
    return mode


def is_quick() -> bool:
    """True in quick mode (``FER_MODE=quick`` or ``FER_QUICK=1``): small subsets and tiny epochs (CI, tests)."""
    return run_mode() == "quick"


def is_workshop() -> bool:
    """True in workshop mode (``FER_MODE=workshop``): budgets for a laptop class (minutes per training cell)."""
    return run_mode() == "workshop"


def by_mode(quick: Any, workshop: Any, full: Any) -> Any:
    """The value for the current :func:`run_mode`, e.g. ``epochs = by_mode(quick=2, workshop=4, full=30)``."""
    return {"quick": quick, "workshop": workshop, "full": full}[run_mode()]


def seed_everything(seed: int = SEED) -> None:
    """Seed Python, NumPy and the Keras backend (TensorFlow, JAX or PyTorch) in one call.

    With the TensorFlow backend it also turns on deterministic ops, so that quick-mode runs
    give the same numbers twice on the CPU.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # pragma: no cover - older TF builds
            pass


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def runs_dir(*parts: str) -> Path:
    """Where the course saves runs and models: ``$FER_RUNS_DIR`` when set, else ``runs/`` at the course's root.

    Every notebook and helper that writes a run folder or a model file asks here, so that they all
    land in one git-ignored place whichever folder a notebook runs in (``lessons/``, ``solutions/``,
    Colab's ``/content``). ``parts`` are joined below it: ``runs_dir("05_training", "best.keras")``.
    When the ``helpers`` package is not inside a course folder (installed without the repository)
    the root is the current working directory. Nothing is created here.

    Returns:
        An absolute :class:`~pathlib.Path` (``~`` expanded).
    """
    configured = os.environ.get("FER_RUNS_DIR", "").strip()
    if configured:
        base = Path(configured).expanduser().resolve()
    elif (COURSE_ROOT / "pyproject.toml").is_file() and (COURSE_ROOT / "helpers").is_dir():
        base = COURSE_ROOT / "runs"
    else:
        base = Path.cwd().resolve() / "runs"
    return base.joinpath(*parts)
