"""Learning-curve plots say which epoch their dotted line marks, and draw it there (helpers.curves).

The dotted line is the best epoch by the metric the checkpoint monitors (``val_accuracy`` by
default): in both panels, in every live redraw, over the whole of a resumed run; the title names
the metric and the epoch. Also: where runs and models are saved (helpers.course.runs_dir).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# best val_accuracy at epoch 3 (1-based), lowest val_loss at epoch 2: the two "best epochs" differ
HISTORY = pd.DataFrame({"epoch": [0, 1, 2, 3], "loss": [1.8, 1.5, 1.3, 1.1], "accuracy": [0.30, 0.42, 0.50, 0.58],
                        "val_loss": [1.70, 1.50, 1.55, 1.60], "val_accuracy": [0.33, 0.40, 0.47, 0.45]})


def dotted_epochs(ax) -> list[float]:
    """The x positions of the dotted vertical lines in a matplotlib axis."""
    return [float(line.get_xdata()[0]) for line in ax.get_lines() if line.get_linestyle() == ":"]


@pytest.mark.parametrize("monitor, best", [("val_accuracy", 3), ("val_loss", 2)])
def test_plot_history_draws_the_dotted_line_where_its_title_says(monitor, best):
    from helpers import curves

    fig = curves.plot_history(HISTORY, monitor=monitor)
    loss_ax, acc_ax = fig.axes
    assert dotted_epochs(loss_ax) == [best] and dotted_epochs(acc_ax) == [best]  # one epoch, both panels
    assert monitor in acc_ax.get_title() and f": {best}" in acc_ax.get_title()
    assert any(f"{monitor}: {best}" in line.get_label() for line in loss_ax.get_lines())  # the loss panel says it too


def test_plot_history_best_epoch_ignores_the_index_and_missing_validation():
    from helpers import curves

    shifted = HISTORY.set_index(pd.Index([10, 11, 12, 13]))  # a slice of a longer log keeps its index
    assert dotted_epochs(curves.plot_history(shifted).axes[1]) == [3]
    with_gap = HISTORY.assign(val_accuracy=[0.33, np.nan, 0.47, 0.45])  # an epoch without validation
    assert dotted_epochs(curves.plot_history(with_gap).axes[1]) == [3]
    no_val = HISTORY.drop(columns=["val_loss", "val_accuracy"])
    fig = curves.plot_history(no_val)
    assert dotted_epochs(fig.axes[0]) == dotted_epochs(fig.axes[1]) == [] and "dotted" not in fig.axes[1].get_title()


def test_best_epoch_keeps_the_first_of_equal_values_as_the_checkpoint_does():
    from helpers.curves import best_epoch

    assert best_epoch([0.3, 0.5, 0.5], "val_accuracy") == 1
    assert best_epoch([1.2, 1.0, 1.0], "val_loss") == 1
    assert best_epoch([np.nan, np.nan], "val_accuracy") is None and best_epoch([], "val_loss") is None


class FakeHandle:
    def __init__(self, figures):
        self.figures = figures

    def update(self, fig):
        self.figures.append(fig)


@pytest.fixture()
def live_figures(monkeypatch):
    """Run live_curves as in Jupyter; collect every figure it displays or updates."""
    import IPython.display

    from helpers import curves

    figures: list = []

    def display(fig, display_id=False):
        figures.append(fig)
        return FakeHandle(figures)

    monkeypatch.setattr(curves, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    return figures


def test_live_curves_mark_the_best_epoch_so_far_in_every_redraw(live_figures):
    from helpers import curves

    callback = curves.live_curves("run", total_epochs=4)
    expected = [1, 2, 3, 3]  # HISTORY's best val_accuracy after each epoch
    for (_, row), best in zip(HISTORY.iterrows(), expected):
        callback.on_epoch_end(int(row["epoch"]), {k: row[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")})
        fig = live_figures[-1]
        assert dotted_epochs(fig.axes[0]) == dotted_epochs(fig.axes[1]) == [best]
        assert f"val_accuracy: {best}" in fig.axes[1].get_title()
    assert len(live_figures) == 4  # one display, three updates of it


def test_live_curves_of_a_resumed_run_choose_the_best_over_all_its_epochs(live_figures):
    from helpers import curves

    earlier = HISTORY.iloc[:3]  # epochs 1-3 done before the restart; the best (0.47) among them
    callback = curves.live_curves("run", total_epochs=4, earlier=earlier)
    callback.on_epoch_end(3, {"loss": 1.1, "accuracy": 0.58, "val_loss": 1.6, "val_accuracy": 0.45})
    fig = live_figures[-1]
    assert dotted_epochs(fig.axes[1]) == [3] and len(fig.axes[1].get_lines()[0].get_xdata()) == 4


def test_live_curves_text_names_the_best_epoch(capsys):
    from helpers import curves

    callback = curves.live_curves("run", total_epochs=2, monitor="val_loss")
    callback.on_epoch_end(0, {"loss": 1.8, "val_loss": 1.5, "val_accuracy": 0.3})
    callback.on_epoch_end(1, {"loss": 1.6, "val_loss": 1.7, "val_accuracy": 0.4})
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("epoch 2/2:") and out[-1].endswith("(best val_loss so far: epoch 1)")


# --------------------------------------------------------------------------- where runs are saved


def test_runs_dir_is_the_git_ignored_runs_folder_or_fer_runs_dir(monkeypatch, tmp_path):
    from helpers import course, runs_dir
    from helpers.training import lesson_05_model_path

    monkeypatch.delenv("FER_RUNS_DIR", raising=False)
    assert runs_dir() == ROOT / "runs" == course.COURSE_ROOT / "runs"
    assert "runs/" in (ROOT / ".gitignore").read_text().splitlines()
    assert runs_dir("05_training", "best.keras") == ROOT / "runs" / "05_training" / "best.keras"
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert runs_dir("x") == tmp_path / "elsewhere" / "x" and not (tmp_path / "elsewhere").exists()  # nothing created
    assert lesson_05_model_path(quick=False) == tmp_path / "elsewhere" / "05_training" / "best.keras"
    assert lesson_05_model_path(quick=True) == tmp_path / "elsewhere" / "05_training" / "quick_model" / "best.keras"


RELATIVE_OUTPUT = re.compile(r"""["'](?:\./)?(?:runs|models)/""")


@pytest.mark.parametrize("notebook", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_write_runs_and_models_through_runs_dir(notebook):
    """A path like "runs/..." or "models/..." in code lands next to the notebook (lessons/, solutions/)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    offending = [line.strip() for cell in cells if cell["cell_type"] == "code"
                 for line in "".join(cell["source"]).splitlines()
                 if RELATIVE_OUTPUT.search(line.split("#")[0])]
    assert not offending, f"use helpers.runs_dir(...) for run folders and models: {offending}"
