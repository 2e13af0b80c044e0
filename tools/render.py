"""Execute the solution notebooks and write them as HTML, for instructors who show finished outputs.

    python tools/render.py                     # every solution, full mode, into rendered/
    python tools/render.py --mode workshop     # or `make render MODE=workshop`
    python tools/render.py solutions/01_loading_fer2013.ipynb --mode quick --out /tmp/html

Each notebook runs in a temporary folder of its own (like ``helpers.grade``: nothing it trains or
saves lands in your checkout). The HTML holds faces from FER2013 and, in lesson 07, possibly
from a camera: ``rendered/`` is git-ignored; never commit or publish it. Exit status 1 when any
notebook had a failing cell or ran past ``--timeout`` (its HTML is still written, showing where).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.grade import MODES, cell_label, execute_notebook  # noqa: E402


def render(notebook: Path, out_dir: Path, mode: str, timeout: float) -> tuple[Path, str]:
    """Execute ``notebook`` in ``mode`` and write ``out_dir/<name>.html``; return it and any problem."""
    from nbconvert import HTMLExporter

    with tempfile.TemporaryDirectory(prefix="fer-render-") as tmp:
        run = execute_notebook(notebook, Path(tmp), timeout, mode)
    if run.notebook is None:
        return out_dir / f"{notebook.stem}.html", run.problem
    html, _ = HTMLExporter().from_notebook_node(run.notebook)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{notebook.stem}.html"
    out.write_text(html, encoding="utf-8")
    problems = [run.problem] if run.problem else []
    problems += [f"{cell_label(run.notebook, i)} raised {e}" for i, e in run.failed_cells.items()]
    trouble = f"  PROBLEM: {'; '.join(problems)}" if problems else ""
    print(f"{notebook} -> {out} ({mode} mode, {run.seconds / 60:.1f} min){trouble}", flush=True)
    return out, "; ".join(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every solutions/*.ipynb")
    parser.add_argument("--mode", choices=MODES, default="full", help="full (default), workshop or quick")
    parser.add_argument("--out", type=Path, default=ROOT / "rendered", help="output folder (default rendered/)")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per notebook (default 4 hours)")
    args = parser.parse_args(argv)
    # HTML shows no live widgets: the notebooks draw helpers.widgets' static fallbacks instead.
    os.environ.setdefault("FER_WIDGETS", "0")
    notebooks = args.notebooks or sorted((ROOT / "solutions").glob("*.ipynb"))
    failed = [nb for nb in notebooks if render(nb, args.out, args.mode, args.timeout)[1]]
    if failed:
        print(f"{len(failed)} of {len(notebooks)} notebook(s) had problems: {', '.join(map(str, failed))}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
