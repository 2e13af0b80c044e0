"""Author a notebook as a percent-format script and turn it into a clean .ipynb.

    python tools/py2nb.py draft.py solutions/01_loading_fer2013.ipynb

``# %%`` starts a code cell; ``# %% [markdown]`` starts a markdown cell whose lines start with
``# ``. The .ipynb is what is committed (the single source); this is only a convenience for
writing it, the reverse of ``jupyter nbconvert --to script``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def convert(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    kind, lines = None, []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in body.splitlines())
            nb.cells.append(nbformat.v4.new_markdown_cell(body))
        elif body:
            nb.cells.append(nbformat.v4.new_code_cell(body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
        cell["id"] = f"cell-{i:03d}"
    return nb


def main() -> None:
    src, dst = map(Path, sys.argv[1:3])
    nbformat.write(convert(src.read_text()), dst)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
