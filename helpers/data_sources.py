"""Where FER2013 is on disk, in the forms people really have it.

One concern: turn the path a user gives into something :mod:`helpers.data` can read, a CSV
file or an image-folder root. It knows about

* archives (``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, ``.gz``, ``.bz2``, ``.xz``), recognised by
  their first bytes, not their names (a gunzipped tar renamed ``fer2013.csv`` is still a tar).
  They are unpacked safely (no path outside the target folder, no links, a size cap) into a
  folder the caller chooses; 7-Zip and RAR are refused with a line that says how to unpack;
* a single wrapping folder (``archive/train/...``, ``fer2013/fer2013.csv``);
* system litter that unpackers leave (``__MACOSX``, ``._*``, ``.DS_Store``, ``Thumbs.db``),
  which is ignored without a word;
* the column layouts of the CSV exports in circulation: ``fer2013.csv``
  (``emotion,pixels,Usage``), Kaggle's ``icml_face_data.csv`` (``emotion, Usage, pixels``, with
  spaces), a pandas index column, Excel's BOM, CRLF, ``;`` separators and UTF-16.

:func:`locate_fer2013` decides, without reading anything, where the course's data comes from.

Nothing here imports TensorFlow, OpenCV or :mod:`helpers.data`.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import os
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Iterator

import numpy as np

from .course import CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES

#: Folder names the loader accepts for each split (lower case).
SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "test": "test", "publictest": "public_test", "public_test": "public_test",
    "privatetest": "private_test", "private_test": "private_test",
    "val": "val", "valid": "val", "validation": "val",
}
#: CSV files that hold FER2013 with labels, in order of preference.
CSV_NAMES = ("fer2013.csv", "icml_face_data.csv", "train.csv")
#: Files that operating systems and unpackers leave behind (compared in lower case).
LITTER_FILES = {"thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"}
LITTER_DIRS = {"__macosx", "$recycle.bin", "system volume information"}
#: The most an archive may unpack to (bytes): FER2013 in every known packaging is below 1.5 GB.
MAX_UNPACKED_BYTES = 4 * 1024**3
HOW_TO_UNPACK = {
    "zip": "unzip '{path}' -d <folder>  (Windows: right-click > Extract All; macOS: double-click)",
    "tar": "tar -xf '{path}' -C <folder>  (Windows 10+: the same command in cmd; or 7-Zip)",
    "7z": "7z x '{path}' -o<folder>  (Windows: 7-Zip; macOS: brew install p7zip)",
    "rar": "unrar x '{path}' <folder>  (or 7-Zip)",
}


def is_litter(name: str) -> bool:
    """True for files and folders left by macOS, Windows or unpackers (never part of a dataset)."""
    low = name.lower()
    return low.startswith(".") or low in LITTER_FILES or low in LITTER_DIRS


def visible_entries(folder: Path) -> list[Path]:
    """The entries of ``folder`` without litter, sorted by name."""
    return sorted(p for p in folder.iterdir() if not is_litter(p.name))


# --------------------------------------------------------------------------- archives


def archive_format(path: str | os.PathLike) -> str | None:
    """The archive or compression format of a file from its first bytes, whatever its name.

    Returns:
        ``"zip"``, ``"tar"`` (uncompressed), ``"gzip"``, ``"bzip2"``, ``"xz"``, ``"7z"``,
        ``"rar"``, or ``None`` for anything else (a CSV, an image).
    """
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if head[:4] == b"Rar!":
        return "rar"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def unpack_command(path: str | os.PathLike, fmt: str) -> str:
    """The command line that unpacks ``path`` by hand."""
    key = fmt if fmt in ("zip", "7z", "rar") else "tar"
    return HOW_TO_UNPACK[key].format(path=path)


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the target folder, or the archive is too large."""


def _safe_member_path(name: str, archive: Path) -> PurePosixPath | None:
    """The relative path a member unpacks to; ``None`` for litter; raises for path traversal."""
    clean = name.replace("\\", "/")
    parts = PurePosixPath(clean).parts
    if clean.startswith("/") or (parts and (":" in parts[0] or ".." in parts)):
        raise UnsafeArchiveError(
            f"{archive} contains the member {name!r}, which would be written outside the target folder; "
            "not unpacking it. Unpack it by hand only if you trust where it came from."
        )
    parts = tuple(p for p in parts if p not in ("", "."))
    if not parts or any(is_litter(p) for p in parts):
        return None
    return PurePosixPath(*parts)


def _members(path: Path, fmt: str) -> Iterator[tuple[str, IO[bytes]]]:
    """``(name, readable file)`` for every regular file in the archive (links and devices skipped)."""
    if fmt == "zip":
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.is_dir():
                    with z.open(info) as f:
                        yield info.filename, f
        return
    try:
        with tarfile.open(path, mode="r:*") as t:
            for member in t:
                if member.isfile():
                    f = t.extractfile(member)
                    if f is not None:
                        yield member.name, f
        return
    except tarfile.ReadError:
        if fmt == "tar":
            raise
    # a single compressed file (fer2013.csv.gz): it unpacks to its name without the suffix
    opener = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}[fmt]
    name = path.stem if path.suffix.lower() in (".gz", ".bz2", ".xz", ".tgz") else path.name + ".unpacked"
    if name.lower().endswith(".tar"):  # fer2013.tar.gz that is not a tar: keep a readable name
        name = name[:-4]
    with opener(path, "rb") as f:
        yield name, f


def unpack_archive(path: str | os.PathLike, into: str | os.PathLike) -> Path:
    """Unpack an archive into the folder ``into`` (created), safely, and return that folder.

    Only regular files are written; every member path must stay inside ``into``; litter
    (``__MACOSX``, ``._*``...) is left out; the total size is capped at
    :data:`MAX_UNPACKED_BYTES`. The files go to a temporary sibling first and are renamed into
    place at the end, so an interrupted unpack is redone, never half-used. An existing
    ``into`` is returned as it is.

    Raises:
        ValueError: not an archive Python can read (7-Zip, RAR, or no archive at all); the
            message gives the command that unpacks it by hand.
        UnsafeArchiveError: a member path leaves the target folder, or the archive unpacks to
            more than :data:`MAX_UNPACKED_BYTES`.
    """
    path, into = Path(path), Path(into)
    fmt = archive_format(path)
    if fmt in (None, "7z", "rar"):
        what = "not an archive" if fmt is None else f"a {fmt.upper()} archive, which Python cannot read"
        raise ValueError(f"{path} is {what}: unpack it with  {unpack_command(path, fmt or 'zip')}  and point the loader at <folder>")
    if into.is_dir():
        return into
    tmp = into.with_name(f"{into.name}.{os.getpid()}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    total = 0
    try:
        for name, source in _members(path, fmt):
            relative = _safe_member_path(name, path)
            if relative is None:
                continue
            target = tmp.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                while chunk := source.read(1 << 20):
                    total += len(chunk)
                    if total > MAX_UNPACKED_BYTES:
                        raise UnsafeArchiveError(
                            f"{path} unpacks to more than {MAX_UNPACKED_BYTES / 1024**3:.0f} GB, far more than "
                            f"FER2013; not unpacking it. If it really is FER2013, unpack it with  {unpack_command(path, fmt)}"
                        )
                    out.write(chunk)
        tmp.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, into)
        except OSError:
            if not into.is_dir():  # else another process unpacked it first: use theirs
                raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, lzma.LZMAError, RuntimeError, NotImplementedError) as exc:
        raise ValueError(
            f"{path} looks like a {fmt} archive but Python cannot read it ({type(exc).__name__}: {exc}): "
            f"unpack it with  {unpack_command(path, fmt)}  and point the loader at <folder>; if that fails too, "
            "the download is incomplete: download it again"
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return into


# --------------------------------------------------------------------------- finding the dataset


@dataclass(frozen=True)
class Found:
    """What :func:`find_dataset` found: ``kind`` is ``"csv"``, ``"folders"``, ``"archive"`` or
    ``"ferplus_folders"`` (the FER2013Train/Valid/Test layout written by FER+'s script)."""

    kind: str
    path: Path


def _is_dataset_folder(folder: Path) -> bool:
    names = {p.name.strip().lower() for p in visible_entries(folder) if p.is_dir()}
    return bool(names & set(SPLIT_ALIASES)) or bool(names & set(CLASS_NAMES))


def find_dataset(path: str | os.PathLike, max_depth: int = 3) -> Found:
    """Find FER2013 at ``path``, looking through up to ``max_depth`` single wrapping folders.

    A file is an ``"archive"`` when its first bytes say so, else a ``"csv"``. In a folder, in
    order: split or emotion folders (``"folders"``); a known CSV (:data:`CSV_NAMES`), or the only
    CSV; FER+'s
    ``FER2013Train`` layout; the only entry being a folder (descend) or an archive. Litter is
    ignored throughout.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a folder with none of these; the message lists what it holds.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(str(path))
    if path.is_file():
        return Found("archive" if archive_format(path) else "csv", path)
    folder = path
    for _ in range(max_depth + 1):
        if _is_dataset_folder(folder):
            return Found("folders", folder)
        entries = visible_entries(folder)
        files = {p.name.lower(): p for p in entries if p.is_file()}
        for name in CSV_NAMES:
            if name in files:
                return Found("csv", files[name])
        csvs = [p for n, p in files.items() if n.endswith(".csv") and n != "fer2013new.csv"]
        if len(csvs) == 1:  # one CSV under another name ("fer2013 (1).csv")
            return Found("csv", csvs[0])
        if any(p.is_dir() and p.name.lower() == "fer2013train" for p in entries):
            return Found("ferplus_folders", folder)
        if len(entries) == 1 and entries[0].is_dir():
            folder = entries[0]
            continue
        archives = [p for p in entries if p.is_file() and archive_format(p)]
        if len(archives) == 1 and len(entries) == 1:
            return Found("archive", archives[0])
        break
    shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in visible_entries(folder)[:8]) or "nothing"
    raise ValueError(
        f"No image folders or FER2013 CSV found in {str(folder)!r}: expected train/<emotion>/ and "
        f"test/<emotion>/ folders (emotions {', '.join(CLASS_NAMES)}), or fer2013.csv; it holds {shown}"
    )


# --------------------------------------------------------------------------- CSV variants


@dataclass(frozen=True)
class CsvLayout:
    """Where the columns are in a FER2013 CSV export: indices into each row (``usage`` may be None)."""

    emotion: int
    pixels: int
    usage: int | None
    width: int
    delimiter: str
    encoding: str


def sniff_encoding(head: bytes) -> str:
    """``"utf-16"`` for Excel's 'Unicode text' (a UTF-16 BOM), else ``"utf-8-sig"`` (drops a UTF-8 BOM)."""
    return "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"


def sniff_delimiter(header_line: str) -> str:
    """The separator of a header line: ``,`` unless ``;`` (European Excel) or a tab is the only one used."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def csv_layout(header: list[str], delimiter: str = ",", encoding: str = "utf-8-sig", where: str = "") -> CsvLayout:
    """Map a FER2013 CSV header onto column positions, by name (spaces and case ignored).

    Extra columns (a pandas index ``Unnamed: 0`` or an empty name) are ignored.

    Raises:
        ValueError: no ``emotion`` or no ``pixels`` column; the message names the file's header
            and, for Kaggle's unlabelled ``test.csv``, says so.
    """
    names = [h.strip().strip('"').lower() for h in header]
    if "pixels" in names and "emotion" not in names:
        raise ValueError(
            f"{where}: the header {','.join(header)!r} has pixels but no emotion column: this is an unlabelled "
            "file (like Kaggle's test.csv). Use fer2013.csv or icml_face_data.csv, which have labels."
        )
    if "emotion" not in names or "pixels" not in names:
        raise ValueError(
            f"{where}: line 1 should be the header 'emotion,pixels,Usage' (any order), got {delimiter.join(header)!r}"
        )
    return CsvLayout(
        emotion=names.index("emotion"),
        pixels=names.index("pixels"),
        usage=names.index("usage") if "usage" in names else None,
        width=len(names),
        delimiter=delimiter,
        encoding=encoding,
    )


def read_csv_arrays(path: str | os.PathLike, usage_to_split: dict[str, str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read the rows of a FER2013 CSV export in file order, per split.

    Args:
        path: the CSV file (any layout :func:`csv_layout` accepts).
        usage_to_split: ``Usage`` value -> split name (matched without case); rows of a file
            without a ``Usage`` column go to the split of ``"Training"``.

    Returns:
        split name -> (uint8 images ``(N, 48, 48, 1)``, int64 labels ``(N,)``).

    Raises:
        ValueError: an archive (the message says how to unpack it), a file that is not text,
            a header without ``emotion`` and ``pixels``, or a malformed row (wrong number of
            fields or pixels, non-numeric value, emotion outside 0-6, unknown Usage), naming
            its line.
    """
    path = Path(path)
    fmt = archive_format(path)
    if fmt:
        raise ValueError(f"{path} is a {fmt} archive, not a CSV: load_fer2013({str(path)!r}) unpacks it, "
                         f"or unpack it with  {unpack_command(path, fmt)}")
    with open(path, "rb") as f:
        encoding = sniff_encoding(f.read(4))
    try:
        with open(path, newline="", encoding=encoding) as f:
            return _parse_csv(f, path, encoding, usage_to_split)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a text CSV (byte {exc.start} is not {encoding}): if it is a spreadsheet, "
                         "save it as 'CSV UTF-8'") from None


def _parse_pixels(text: str, path: Path, line: int) -> np.ndarray:
    """Space-separated integers as int64; a non-numeric value raises ValueError naming it and the line."""
    try:  # NumPy's text parser: about 5x faster than converting a list of strings
        pixels = np.fromstring(text, dtype=np.int64, sep=" ")
        if pixels.size == IMAGE_SIZE * IMAGE_SIZE:  # else: find the fault (or a wrong count) below
            return pixels
    except ValueError:
        pass
    values = text.split()
    try:
        return np.array(values, dtype=np.int64)
    except ValueError:
        bad = next((p for p in values if not p.lstrip("-").isascii() or not p.lstrip("-").isdigit()), values[0])
        raise ValueError(f"{path}: line {line}: non-numeric pixel value {bad!r}") from None


def _parse_csv(f: IO[str], path: Path, encoding: str, usage_to_split: dict[str, str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    lookup = {k.lower(): v for k, v in usage_to_split.items()}
    first = f.readline()
    delimiter = sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter), [])
    layout = csv_layout(header, delimiter, encoding, where=str(path))
    images: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[int]] = {}
    reader = csv.reader(f, delimiter=delimiter)
    for row in reader:
        line = reader.line_num + 1
        if not any(field.strip() for field in row):  # blank lines, and Excel's ",,," lines
            continue
        if len(row) != layout.width:
            raise ValueError(f"{path}: line {line} has {len(row)} fields, expected {layout.width} ({','.join(header)})")
        text = row[layout.emotion].strip()
        try:
            emotion = int(text)
        except ValueError:
            raise ValueError(f"{path}: line {line}: emotion {text!r} is not a number 0-6") from None
        if not 0 <= emotion < NUM_CLASSES:
            raise ValueError(f"{path}: line {line}: emotion {emotion} is outside 0-6")
        pixels = _parse_pixels(row[layout.pixels], path, line)
        if pixels.size != IMAGE_SIZE * IMAGE_SIZE:
            raise ValueError(f"{path}: line {line} has {pixels.size} pixels, expected {IMAGE_SIZE * IMAGE_SIZE} (48x48)")
        if pixels.min() < 0 or pixels.max() > 255:
            raise ValueError(f"{path}: line {line}: pixel values must be 0-255")
        usage = row[layout.usage].strip() if layout.usage is not None else "Training"
        if usage.lower() not in lookup:
            raise ValueError(f"{path}: line {line}: Usage {usage!r} is not one of {sorted(usage_to_split)}")
        split = lookup[usage.lower()]
        images.setdefault(split, []).append(pixels.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE, 1))
        labels.setdefault(split, []).append(emotion)
    return {name: (np.stack(images[name]), np.array(labels[name], dtype=np.int64)) for name in images}


# --------------------------------------------------------------------------- locating the data

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"

HOW_TO_GET_DATA = """\
How to get FER2013 (about 60 MB):
  1. In Python: helpers.download_fer2013()  (uses kagglehub; needs a Kaggle account/API token
     in ~/.kaggle/kaggle.json or the KAGGLE_USERNAME/KAGGLE_KEY variables), or
  2. Kaggle CLI (pip install kaggle):  kaggle datasets download -d msambare/fer2013 -p data/fer2013 --unzip
  3. or by hand: https://www.kaggle.com/datasets/msambare/fer2013 -> Download, unzip so that
     you have data/fer2013/train/<emotion>/ and data/fer2013/test/<emotion>/.
  The original CSV (fer2013.csv, from the ICML 2013 challenge) works too: put it at
  data/fer2013.csv. Archives (archive.zip, fer2013.tar.gz) work unpacked or not.
  Or point FER2013_DIR at any of these."""

#: Where the course looks in ``data/`` when no source is given, in this order.
DEFAULT_CANDIDATES = ("fer2013", "fer2013.csv", "icml_face_data.csv", "archive.zip", "fer2013.zip", "fer2013.tar.gz")
FERPLUS_FOLDERS = (
    "{path} is the FER2013Train/FER2013Valid/FER2013Test layout that FER+'s generate_training_data.py writes "
    "(FER2013's images renamed, labelled only by the votes in each label.csv). Load the fer2013.csv it was made "
    "from instead, with fer2013new.csv beside it: load_fer2013('.../fer2013.csv', labels='ferplus')."
)


def locate_fer2013(source: str | os.PathLike | None = None) -> tuple[str, str]:
    """Decide where the data comes from, without loading it.

    Order: the explicit ``source``; the ``FER2013_DIR`` environment variable; in the project's
    ``data/``, the names in :data:`DEFAULT_CANDIDATES`; otherwise the offline demo data. A folder
    is searched through single wrapping folders (``archive/train/...``); see
    :func:`helpers.data_sources.find_dataset`.

    Returns:
        ``(kind, location)`` with kind ``"csv"``, ``"folders"``, ``"archive"`` (unpacked by
        :func:`load_fer2013` on first use), ``"ferplus_folders"`` or ``"offline"``.

    Raises:
        FileNotFoundError: an explicit ``source`` or ``FER2013_DIR`` does not exist.
        ValueError: the folder given holds no FER2013 (the message lists what it holds).
    """
    if source is not None and str(source) == "offline":
        return "offline", "built-in procedurally drawn faces"
    for given, origin in ((source, "source argument"), (os.environ.get("FER2013_DIR") or None, "FER2013_DIR")):
        if given is None:
            continue
        path = Path(given).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"FER2013 not found at {str(path)!r} (from the {origin}).\n{HOW_TO_GET_DATA}")
        return _find(path)
    for candidate in (DATA_DIR / name for name in DEFAULT_CANDIDATES):
        if candidate.is_file() or (candidate.is_dir() and any(not is_litter(p.name) for p in candidate.iterdir())):
            return _find(candidate)
    return "offline", "built-in procedurally drawn faces"


def _find(path: Path) -> tuple[str, str]:
    try:
        found = find_dataset(path)
    except ValueError as exc:
        raise ValueError(f"{exc}\n{HOW_TO_GET_DATA}") from None
    return found.kind, str(found.path)
