"""Shared by every control: whether widgets can be shown, showing one, figures as PNG."""

from __future__ import annotations

import io
import os


def widgets_enabled() -> bool:
    """True when ipywidgets can be imported and ``FER_WIDGETS`` is not ``0`` (the fallbacks run otherwise)."""
    if os.environ.get("FER_WIDGETS", "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _use_widgets(interactive: bool | None) -> bool:
    return widgets_enabled() if interactive is None else bool(interactive and widgets_enabled())


def _display(obj) -> None:
    from IPython.display import display

    display(obj)


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (for an ipywidgets ``Image``); the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _new_figure(figsize: tuple[float, float]):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)
