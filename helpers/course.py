"""Course-wide settings: class order, run mode (quick/workshop/full), seeding and the banner every notebook shows first."""

from __future__ import annotations

import os
import platform
import random
import sys
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CourseInfo:
    """What a notebook runs on: returned by :func:`start` and printed as its first output."""

    title: str
    quick: bool
    data_source: str
    data_location: str
    offline: bool
    seed: int
    mode: str = "full"

    def __str__(self) -> str:
        others = [m for m in MODES if m != self.mode]
        return (
            f"{self.title}\n"
            f"  mode:   {self.mode.upper()}: {MODES[self.mode]}\n"
            f"          to change: FER_MODE={others[0]} (or {others[1]}) in the shell that starts Jupyter, or\n"
            f"          import os; os.environ['FER_MODE'] = '{others[0]}'  then run the notebook again from the top\n"
            f"  data:   {self.data_source}  ({self.data_location})\n"
            f"  seed:   {self.seed}\n"
            f"  python {platform.python_version()} on {platform.system()}"
        )


OFFLINE_BANNER = (
    "OFFLINE DEMO DATA: this notebook is running on the course's procedurally drawn cartoon faces,\n"
    "NOT on FER2013. Numbers and pictures below say nothing about FER2013.\n"
    "To use the real data: put fer2013.csv or the Kaggle train/ and test/ folders in data/, set\n"
    "FER2013_DIR, or run helpers.download_fer2013() (see lesson 00 and the README)."
)


def start(title: str, seed: int = SEED) -> CourseInfo:
    """Seed everything, find the data, and print which mode and data source this notebook uses.

    Shows a highly visible banner when the course falls back to its offline demo data.
    """
    from .data import locate_fer2013

    seed_everything(seed)
    kind, location = locate_fer2013()
    info = CourseInfo(
        title=title,
        quick=is_quick(),
        mode=run_mode(),
        data_source={"csv": "FER2013 (CSV)", "folders": "FER2013 (image folders)",
                     "archive": "FER2013 (archive, unpacked on first load)",
                     "ferplus_folders": "FER+ folders (not loadable: use fer2013.csv)"}.get(kind, "OFFLINE DEMO DATA"),
        data_location=str(location),
        offline=kind == "offline",
        seed=seed,
    )
    print(info)
    if info.offline:
        show_offline_banner()
    return info


def show_offline_banner() -> None:
    """Print (and in Jupyter, display in red) the offline-data warning."""
    print("\n" + "!" * 100 + "\n" + OFFLINE_BANNER + "\n" + "!" * 100)
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display

        if get_ipython() is not None:
            html = OFFLINE_BANNER.replace("\n", "<br>")
            display(HTML(
                '<div style="border:3px solid #c00;background:#fee;color:#900;padding:10px;'
                f'font-weight:bold;font-size:110%">{html}</div>'
            ))
    except ImportError:  # pragma: no cover
        pass
