"""How long loading FER2013 takes: cold (cache cleared) and warm (from the cache).

    python benchmarks/bench_loading.py            # FER2013_DIR, else ../shared/fer2013
    python benchmarks/bench_loading.py PATH [CSV] # explicit folders (and CSV)
    make benchmark

The cache lives in a temporary folder here, so the user's own cache is left alone. The issue's
target is <= 5 s for the full image-folder dataset on 2 cores; a number, not a timed test.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.data import load_fer2013  # noqa: E402


def time_load(source: Path, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` seconds for a cold load (empty cache) and a warm one (cache present)."""
    cold, warm, n = [], [], 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["FER_CACHE_DIR"] = cache
            start = time.perf_counter()
            data = load_fer2013(source, verbose=False)
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            load_fer2013(source, verbose=False)
            warm.append(time.perf_counter() - start)
            n = sum(len(s) for s in data.splits.values())
    start = time.perf_counter()
    load_fer2013(source, cache=False, verbose=False)
    uncached = time.perf_counter() - start
    return {"images": n, "cold": min(cold), "warm": min(warm), "no cache": uncached}


def main(argv: list[str]) -> int:
    folders = Path(argv[0]) if argv else Path(os.environ.get("FER2013_DIR") or ROOT.parent / "shared" / "fer2013")
    csv = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "fer2013-csv-sample" / "fer2013.csv"
    rows = []
    for label, source in (("image folders", folders), ("CSV", csv)):
        if not source.exists():
            print(f"(skipping {label}: {source} not found)")
            continue
        rows.append((label, source, time_load(source)))
    if not rows:
        print("No data to time. Set FER2013_DIR or pass a path.")
        return 1
    print(f"\nCPUs: {os.cpu_count()}   (cold = decode + write cache; warm = from cache; best of 3)\n")
    print(f"| {'source':<14} | {'images':>7} | {'cold s':>7} | {'warm s':>7} | {'no cache s':>10} |")
    print(f"|{'-' * 16}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 12}|")
    for label, _, r in rows:
        print(f"| {label:<14} | {r['images']:>7} | {r['cold']:>7.2f} | {r['warm']:>7.3f} | {r['no cache']:>10.2f} |")
    for label, source, _ in rows:
        print(f"  {label}: {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
