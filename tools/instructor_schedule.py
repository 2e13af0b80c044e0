"""The instructor guide's schedules, from measured workshop-mode runs: ``instructors/schedule.md``.

    python tools/instructor_schedule.py                      # writes instructors/schedule.md
    python tools/instructor_schedule.py --print              # prints it instead
    python tools/instructor_schedule.py --provisional 05     # marks lesson 05's time "to be re-measured"

Reads JSON lines written by ``benchmarks/bench_workshop.py`` (default:
``instructors/workshop_times.jsonl``, a copy of the benchmark's output; when a notebook appears
more than once, its LAST line counts, so a re-measured lesson is updated by appending its new line
and running this again). Each line gives a notebook's wall-clock minutes in workshop mode, the
minutes of its training cell and its slowest cells, the load average before and after (on a
shared machine a time measured under load is an upper bound) and, in newer records, the data it
ran on: lines run on the offline demo data are skipped (their times say nothing about FER2013).

Teaching time = compute minutes (measured) + an allowance for explanation, exercises and discussion
(a planning assumption, not a measurement): the "Estimated time" each lesson's first cell states
(read from ``solutions/NN_*.ipynb``), or for the one-day plan the shorter allowance in
``ONE_DAY`` below. Compute and allowance are added (no overlap), so the plans are conservative.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TIMES = ROOT / "instructors" / "workshop_times.jsonl"
DEFAULT_OUT = ROOT / "instructors" / "schedule.md"
#: What bench_workshop.py records as ``data`` when it ran on the offline demo data (such lines are skipped).
OFFLINE = "offline demo data"
ESTIMATED = re.compile(r"Estimated time:\*\*\s*(\d+)\s*minutes")

#: The two-day plan: lessons per day, each with its notebook's own "Estimated time".
TWO_DAYS = {1: ["00", "01", "02", "03", "04", "05"], 2: ["06", "07", "08", "09"]}
#: The one-day plan: (lesson, allowance in minutes). Planning assumptions: 00 is done before the day
#: (helpers.doctor) and only recapped; 08 and 09 are skipped (instructors/README.md says how);
#: exercises are live-coded together instead of solved alone, further exercises are homework.
ONE_DAY = [("00", 10), ("01", 30), ("02", 30), ("03", 40), ("04", 40), ("05", 50), ("06", 45), ("07", 35)]
DAY_START = 9 * 60
#: Breaks: a coffee break once 90 minutes have passed since the last break; lunch is the first
#: break due at or after 12:00, and is due anyway at the first lesson boundary after 12:30.
BREAK_AFTER, COFFEE, LUNCH, LUNCH_FROM, LUNCH_LATEST = 90, 15, 60, 12 * 60, 12 * 60 + 30


@dataclass
class Measured:
    """One lesson's workshop-mode run, as bench_workshop.py recorded it."""

    lesson: str
    notebook: str
    minutes: float
    training_cell_minutes: float | None
    slowest: list[float]
    best_val_accuracy: float | None
    load_before: list[float]
    load_after: list[float]
    when: str
    cpus: int
    data: str

    @property
    def under_load(self) -> bool:
        """True when the load average (1 min before, 1 and 5 min after) exceeded the CPU count by more than
        one: an upper bound. The benchmark itself keeps about the CPU count busy (TensorFlow uses every
        core), so its own load alone reads about ``cpus``; more than ``cpus + 1`` means other work too."""
        return max(self.load_before[0], *self.load_after[:2]) > self.cpus + 1


def read_times(paths: list[Path]) -> dict[str, Measured]:
    """``{lesson number: Measured}`` from JSON-lines files; later lines replace earlier ones.

    Raises FileNotFoundError for a missing file and ValueError for a line that is not a workshop-mode
    record of bench_workshop.py (the message names the file and line).
    """
    runs: dict[str, Measured] = {}
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if row["mode"] != "workshop" or row.get("data") == OFFLINE:
                    continue  # another mode, or the offline demo data: says nothing about FER2013
                lesson = row["notebook"][:2]
                runs[lesson] = Measured(lesson, row["notebook"], float(row["minutes"]), row.get("training_cell_minutes"),
                                        list(row.get("slowest_cells_minutes", [])), row.get("best_val_accuracy"),
                                        list(row["load_before"]), list(row["load_after"]), row["when"], int(row["cpus"]),
                                        row.get("data", "not recorded"))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{path}:{number}: not a bench_workshop.py record ({error}): {line[:80]}") from error
    return runs


def lesson_allowances(solutions: Path = ROOT / "solutions") -> dict[str, tuple[str, int]]:
    """``{lesson number: (notebook title, minutes of reading and exercises its first cell states)}``."""
    found = {}
    for notebook in sorted(solutions.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        text = "".join(cells[0]["source"])
        title = text.splitlines()[0].lstrip("# ").strip()
        match = ESTIMATED.search(text)
        if not match:
            raise ValueError(f"{notebook}: its first cell states no 'Estimated time: N minutes'")
        found[notebook.name[:2]] = (title, int(match.group(1)))
    return found


def _load(values: list[float]) -> str:
    return "/".join(f"{v:.1f}" for v in values)


def _marks(run: Measured, provisional: bool) -> str:
    """What qualifies a measured time: measured under load (an upper bound), to be re-measured."""
    notes = (["upper bound: under load"] if run.under_load else []) + (["to be re-measured"] if provisional else [])
    return f" ({'; '.join(notes)})" if notes else ""


def _clock(minutes: float) -> str:
    minutes = int(round(minutes))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def measured_table(runs: dict[str, Measured], titles: dict[str, tuple[str, int]], provisional: set[str]) -> list[str]:
    """The Markdown table of measured compute minutes, one row per lesson (missing lessons say so)."""
    lines = ["| lesson | compute min (end to end) | training cell min | slowest cells min | best val_accuracy "
             "| load avg before (1/5/15 min) | after | measured | data |",
             "| --- | ---: | ---: | --- | ---: | --- | --- | --- | --- |"]
    for lesson, (title, _) in titles.items():
        run = runs.get(lesson)
        if run is None:
            lines.append(f"| {title} | not measured | | | | | | | |")
            continue
        mark = _marks(run, lesson in provisional)
        train = "" if run.training_cell_minutes is None else f"{run.training_cell_minutes:.1f}"
        best = "" if run.best_val_accuracy is None else f"{run.best_val_accuracy:.3f}"
        lines.append(f"| {title} | {run.minutes:.1f}{mark} | {train} | {', '.join(f'{s:.2f}' for s in run.slowest)} | {best} "
                     f"| {_load(run.load_before)} | {_load(run.load_after)} | {run.when}, {run.cpus} CPUs | {run.data} |")
    return lines


def day_plan(items: list[tuple[str, int]], runs: dict[str, Measured], titles: dict[str, tuple[str, int]],
             provisional: set[str]) -> tuple[list[str], float]:
    """Markdown rows (start, end, what, compute, allowance) for one day, with breaks; and its end in minutes."""
    clock, since_break, lunch_done, rows = float(DAY_START), 0.0, False, []
    for lesson, allowance in items:
        if since_break >= BREAK_AFTER or (not lunch_done and clock >= LUNCH_LATEST):
            length, name = (LUNCH, "lunch") if not lunch_done and clock >= LUNCH_FROM else (COFFEE, "break")
            lunch_done = lunch_done or name == "lunch"
            rows.append(f"| {_clock(clock)} | {_clock(clock + length)} | *{name}* | | | |")
            clock, since_break = clock + length, 0.0
        run = runs.get(lesson)
        compute = run.minutes if run else None
        total = allowance + (compute or 0.0)
        shown = "**not measured**" if run is None else f"{run.minutes:.1f}" + _marks(run, lesson in provisional)
        rows.append(f"| {_clock(clock)} | {_clock(clock + total)} | {titles[lesson][0]} | {shown} | {allowance} | {total:.0f} |")
        clock, since_break = clock + total, since_break + total
    return rows, clock


def render(runs: dict[str, Measured], titles: dict[str, tuple[str, int]], provisional: set[str], sources: list[str],
           command: str) -> str:
    """The whole generated page."""
    header = ["| start | end | lesson | compute min (measured) | allowance min (planned) | total min |",
              "| --- | --- | --- | ---: | ---: | ---: |"]
    out = [
        "# Measured compute times and schedules",
        "",
        f"Generated by `{command}` from {', '.join(f'`{s}`' for s in sources)}; do not edit by hand: "
        "append a new measurement to the JSON lines and run the command again.",
        "",
        "## Compute minutes per lesson (measured)",
        "",
        "Each solution notebook executed top to bottom in a fresh kernel with `FER_MODE=workshop` on real FER2013 "
        "(`benchmarks/bench_workshop.py`). A time measured while the load average exceeded the CPU count by more than one (before, or "
        "over the 1 or 5 minutes before the end) is marked *upper bound: under load*: other work shared the cores, so "
        "on an idle machine it takes less.",
        "",
        *measured_table(runs, titles, provisional),
        "",
        "## Two-day schedule",
        "",
        "Allowance = the \"Estimated time\" of reading and exercises that each lesson's first cell states "
        "(a planning assumption); compute = the measured minutes above; total = both added.",
        "",
    ]
    for day, lessons in TWO_DAYS.items():
        rows, end = day_plan([(n, titles[n][1]) for n in lessons], runs, titles, provisional)
        out += [f"### Day {day} (ends {_clock(end)})", "", *header, *rows, ""]
    rows, end = day_plan(ONE_DAY, runs, titles, provisional)
    skipped = sorted(set(titles) - {n for n, _ in ONE_DAY})
    out += ["## One-day schedule", "",
            f"Shorter allowances (planning assumptions: exercises live-coded together, further exercises as homework); "
            f"skipped: {', '.join(titles[n][0] for n in skipped)} (see the guide's \"Where to skip\").", "",
            f"### The day (ends {_clock(end)})", "", *header, *rows, ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("times", nargs="*", type=Path, default=[DEFAULT_TIMES], help="JSON-lines files of bench_workshop.py")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the Markdown (default instructors/schedule.md)")
    parser.add_argument("--print", action="store_true", help="print instead of writing --out")
    parser.add_argument("--provisional", nargs="*", default=[], help="lesson numbers whose time is to be re-measured")
    args = parser.parse_args(argv)
    runs = read_times(args.times)
    titles = lesson_allowances()
    sources = [str(p.resolve().relative_to(ROOT)) if p.resolve().is_relative_to(ROOT) else str(p) for p in args.times]
    command = ("python tools/instructor_schedule.py" + ("" if args.times == [DEFAULT_TIMES] else " " + " ".join(sources))
               + (f" --provisional {' '.join(args.provisional)}" if args.provisional else ""))
    page = render(runs, titles, set(args.provisional), sources, command)
    if args.print:
        print(page)
    else:
        args.out.write_text(page + "\n", encoding="utf-8")
        print(f"wrote {args.out} ({len(runs)} lessons measured)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
