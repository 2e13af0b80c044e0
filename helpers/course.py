"""Course-wide settings: class order, quick mode, seeding and the banner every notebook shows first."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import platform
import random
import re
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- a quiet start
# TensorFlow's C++ libraries log to the process's stderr (file descriptor 2) while they load
# ("Could not find cuda drivers", "failed call to cuInit", oneDNN and CPU-instruction notes):
# harmless on a CPU, but red and alarming in a notebook. TF_CPP_MIN_LOG_LEVEL=3 silences those
# logged after loading; the few written while the libraries load (before absl's logging is set
# up, so no level applies) are filtered out of stderr during the first `import tensorflow`,
# and everything else written then is passed on. Set TF_CPP_MIN_LOG_LEVEL yourself to see them.
_TF_LOG_LINE = re.compile(rb"^([IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]|WARNING: All log messages before absl"
                          rb"|To enable the following instructions:)")


@contextlib.contextmanager
def _without_tensorflow_log_lines():
    """Capture file descriptor 2 and pass on every line except TensorFlow's C++ log lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = b"".join(line for line in captured if not _TF_LOG_LINE.match(line))
            if kept:
                os.write(2, kept)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: the first ``import tensorflow`` runs without TensorFlow's C++ log lines and
    leaves TensorFlow's Python logger at ERROR (no retracing warnings). Nothing is imported here."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow" or os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
            return None
        sys.meta_path.remove(self)  # once, and find the real module below
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return None
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with _without_tensorflow_log_lines():
            self._loader.exec_module(module)
        module.get_logger().setLevel(logging.ERROR)  # after TF's own set-up, which may choose INFO


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietTensorFlowImport())

#: The canonical class order: FER2013's own label indices (0 angry ... 6 neutral).
#: Every loader, model output and plot in the course uses this order.
CLASS_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES: int = len(CLASS_NAMES)
IMAGE_SIZE: int = 48
SEED: int = 42

#: Where the course lives, used by the Colab setup cells and the "Open in Colab" badges.
REPO_URL = "https://github.com/fer-course/fer2013-course"
COLAB_URL = "https://colab.research.google.com/github/fer-course/fer2013-course/blob/main/"


def is_quick() -> bool:
    """True when ``FER_QUICK`` is set to 1/true/yes: small subsets and tiny epochs (CI, tests)."""
    return os.environ.get("FER_QUICK", "").strip().lower() in {"1", "true", "yes", "on"}


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

    def __str__(self) -> str:
        mode = ("QUICK (small balanced subset, tiny epochs; unset FER_QUICK for full mode)" if self.quick
                else "FULL (set FER_QUICK=1 for a quick run on a small subset)")
        return (
            f"{self.title}\n"
            f"  mode:   {mode}\n"
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
        data_source={"csv": "FER2013 (CSV)", "folders": "FER2013 (image folders)"}.get(kind, "OFFLINE DEMO DATA"),
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
