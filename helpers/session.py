"""A lesson's first call: ``info = helpers.start("NN · Title")``.

:func:`start` seeds everything, finds the data (without loading it), and prints the mode, the
data source and the seed; on the offline demo data it shows a banner no one can miss.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from .course import MODES, SEED, is_quick, run_mode, seed_everything
from .data_sources import locate_fer2013


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
