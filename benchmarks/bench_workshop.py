"""Workshop-mode benchmark: execute lesson notebooks as a class would, and time them.

    python benchmarks/bench_workshop.py                       # lessons 04 and 05 (default)
    python benchmarks/bench_workshop.py --notebooks 03 04 05 --mode workshop

Each notebook in ``solutions/`` is executed top to bottom with nbclient, in a fresh kernel, with
``FER_MODE`` set (default ``workshop``) and ``FER2013_DIR`` pointing at real FER2013 (default
``../shared/fer2013`` when it exists). For every notebook it records the wall-clock minutes, the
minutes of the cell that prints ``best val_accuracy:`` (lesson 05's training cell), that number
itself, and the load average before and after (on a shared machine, a time measured under load is
an upper bound of the time on an idle one; the accuracy does not depend on the load).

Results are printed and appended as JSON lines to ``--out`` (default runs/bench_workshop.jsonl);
copy them into benchmarks/RESULTS.md. Notebooks run in a scratch folder, runs/bench_workshop/, so
that their ``runs/`` and ``models/`` outputs do not touch your own; the executed notebooks are
saved there too (``executed_NN_name.ipynb``), to read each output beside its text.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEST = re.compile(r"best val_accuracy: ([0-9.]+)")


def run_notebook(path: Path, mode: str, workdir: Path, timeout_s: int) -> dict:
    """Execute one notebook with nbclient; return minutes overall and per cell, and what its outputs say."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_before = {k: os.environ.get(k) for k in ("FER_MODE", "FER_QUICK", "PYTHONPATH")}
    os.environ["FER_MODE"] = mode
    os.environ.pop("FER_QUICK", None)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_before["PYTHONPATH"]) if p)
    cell_seconds: list[float] = []
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    load_before = os.getloadavg()
    start = time.perf_counter()
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                t = time.perf_counter()
                client.execute_cell(cell, index)
                cell_seconds.append(time.perf_counter() - t)
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    total = time.perf_counter() - start
    nbformat.write(nb, workdir / f"executed_{path.name}")  # to read every output beside its text
    best, train_s = None, None
    for cell, seconds in zip((c for c in nb.cells), cell_seconds):
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        found = BEST.search(text)
        if found:
            best, train_s = float(found.group(1)), seconds
    return {
        "notebook": path.name, "mode": mode, "minutes": round(total / 60, 2),
        "training_cell_minutes": None if train_s is None else round(train_s / 60, 2), "best_val_accuracy": best,
        "slowest_cells_minutes": sorted((round(s / 60, 2) for s in cell_seconds), reverse=True)[:3],
        "load_before": [round(x, 1) for x in load_before], "load_after": [round(x, 1) for x in os.getloadavg()],
        "cpus": os.cpu_count(), "python": platform.python_version(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="+", default=["04", "05"], help="lesson numbers (default: 04 05)")
    parser.add_argument("--mode", default="workshop", choices=["quick", "workshop", "full"])
    parser.add_argument("--data", default=os.environ.get("FER2013_DIR") or str(ROOT.parent / "shared" / "fer2013"))
    parser.add_argument("--allow-demo", action="store_true", help="run on the offline demo data when --data is absent")
    parser.add_argument("--timeout-min", type=float, default=30, help="per cell")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_workshop.jsonl"))
    args = parser.parse_args(argv)

    if Path(args.data).exists():
        os.environ["FER2013_DIR"] = str(Path(args.data).resolve())
    elif not args.allow_demo:
        raise SystemExit(f"No FER2013 at {args.data}: pass --data /path/to/fer2013 (the folder with train/ and test/, "
                         "or fer2013.csv). Workshop times and accuracies on the offline demo data say nothing about "
                         "FER2013; add --allow-demo to run on it anyway.")
    else:
        os.environ.pop("FER2013_DIR", None)
        print(f"No FER2013 at {args.data}: running on the offline demo data (--allow-demo); the numbers say nothing "
              "about FER2013.")
    workdir = ROOT / "runs" / "bench_workshop"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for number in args.notebooks:
        paths = sorted((ROOT / "solutions").glob(f"{number}_*.ipynb"))
        if not paths:
            raise SystemExit(f"no solutions/{number}_*.ipynb")
        print(f"running {paths[0].name} in {args.mode} mode ...", flush=True)
        result = run_notebook(paths[0], args.mode, workdir, int(args.timeout_min * 60))
        result["data"] = os.environ.get("FER2013_DIR", "offline demo data")
        print(json.dumps(result), flush=True)
        with out.open("a") as f:
            f.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
