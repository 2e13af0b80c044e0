"""Loading FER2013 in the two forms people have it, and the course's data in one call.

FER2013 comes as

* the original ICML-2013 ``fer2013.csv`` (columns ``emotion,pixels,Usage``; ``Usage`` is
  ``Training``, ``PublicTest`` or ``PrivateTest``; ``emotion`` is the index into
  :data:`CLASS_NAMES`), or
* the Kaggle image folders ``train/<emotion>/*.jpg`` and ``test/<emotion>/*.jpg`` (folder
  names in *alphabetical* order on disk, which is **not** the label order: we map names, never
  positions).

Both become a :class:`FER2013Data`: uint8 images of shape ``(N, 48, 48, 1)`` and int64 labels
in :data:`CLASS_NAMES` order, per split. Archives, wrapping folders and the CSV variants in
circulation are recognised by :mod:`helpers.data_sources`; the FER+ votes (``fer2013new.csv``)
by :mod:`helpers.ferplus`. :func:`load_course_data` applies the split protocol of
:mod:`helpers.splits` (whose names are also reachable here, as ``helpers.data.course_splits``).
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import data_sources, ferplus, image_files
from .course import CLASS_NAMES, IMAGE_SIZE, SEED, is_quick
from .data_sources import DATA_DIR, FERPLUS_FOLDERS, HOW_TO_GET_DATA, PROJECT_ROOT, locate_fer2013  # noqa: F401
from .data_sources import SPLIT_ALIASES, archive_format, find_dataset, is_litter
from .data_sources import read_csv_arrays, unpack_archive, unpack_command
from .splits import FER2013Data, LockedSplit, Split, balanced_subset, course_splits, final_test
from .splits import class_counts, has_twin_in, move_twins_to_train, pixel_hashes, stratified_split, twin_free_split  # noqa: F401

KAGGLE_DATASET = "msambare/fer2013"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
CSV_USAGE = {"Training": "train", "PublicTest": "public_test", "PrivateTest": "private_test"}
#: Images in class folders larger than this (pixels, either side) or more elongated than
#: MAX_CROP_ASPECT are whole photos, not face crops: they are skipped with a warning.
MAX_CROP_SIDE = 256
MAX_CROP_ASPECT = 1.5


# --------------------------------------------------------------------------- reading what was found


def _unpack(archive: Path, verbose: bool) -> tuple[str, str]:
    """Unpack ``archive`` once into the cache folder; ``(kind, location)`` of what it holds."""
    if archive.suffix.lower() in (".xlsx", ".xlsm", ".ods"):  # zip files too, but not archives of FER2013
        raise ValueError(f"{archive} is a spreadsheet: open it and save it as 'CSV UTF-8', then load that .csv")
    into = cache_dir() / "unpacked" / f"{archive.name}-{_fingerprint(archive)[:12]}"
    if verbose and not into.is_dir():
        print(f"{archive.name} is an archive ({archive_format(archive)}): unpacking it once into {into} ...")
    found = find_dataset(unpack_archive(archive, into))
    return found.kind, str(found.path)


def load_fer2013(
    source: str | os.PathLike | None = None,
    *,
    labels: str = "fer2013",
    download: bool = False,
    allow_offline: bool = True,
    cache: bool = True,
    verbose: bool = True,
) -> FER2013Data:
    """Load FER2013 from a CSV file, Kaggle image folders, an archive of either, or the offline demo data.

    Args:
        source: a CSV export (``fer2013.csv``, ``icml_face_data.csv``), a folder with ``train/``
            and ``test/`` emotion folders (also one level down, as unzipping often leaves it),
            an archive of either (``.zip``, ``.tar.gz``, ``.tgz``, ``.tar``, ``.gz``: unpacked once
            into the cache folder), or ``"offline"``. ``None`` searches ``FER2013_DIR`` and
            ``data/`` (see :func:`locate_fer2013`).
        labels: ``"fer2013"`` (the dataset's own labels) or ``"ferplus"``: the majority of the
            FER+ votes in ``fer2013new.csv`` beside the CSV; images without a majority among
            the 7 classes (ties, "unknown", not a face, contempt) are dropped and listed in
            ``skipped``, and each split's ``soft_labels`` holds the vote distribution.
        download: when nothing is found, download FER2013 with kagglehub into ``data/``.
        allow_offline: when nothing is found (and ``download`` is False), fall back to the
            offline demo data instead of raising ``FileNotFoundError``.
        cache: keep a decoded copy (``.npz``) so the next load takes well under a second; it is
            rebuilt whenever the files change.
        verbose: print where the data came from, anything skipped, and FER+ votes found.

    Returns:
        :class:`FER2013Data`: per split, uint8 images ``(N, 48, 48, 1)`` and int64 labels in
        :data:`CLASS_NAMES` order, plus the source and every skipped item.

    Raises:
        FileNotFoundError: ``source`` does not exist; or ``labels="ferplus"`` without a vote file.
        ValueError: no FER2013 in ``source``, a malformed file, an unreadable archive (the
            message says how to unpack it), or an empty dataset.
    """
    if labels not in ("fer2013", "ferplus"):
        raise ValueError(f"labels must be 'fer2013' or 'ferplus', got {labels!r}")
    kind, location = locate_fer2013(source)
    if kind == "offline" and source is None:
        if download:
            location, kind = str(download_fer2013()), "folders"
        elif not allow_offline:
            raise FileNotFoundError(f"FER2013 not found (looked at FER2013_DIR and {data_sources.DATA_DIR}).\n{HOW_TO_GET_DATA}")
    kind, path, archives = _readable(kind, location, verbose)
    if kind == "offline":
        if labels == "ferplus":
            raise ValueError("labels='ferplus' needs fer2013.csv with fer2013new.csv beside it; this is the offline demo data")
        from . import offline

        # drawing the faces takes seconds; the cache is keyed on offline.py, so any change redraws
        data = _cached(_draw_offline, Path(offline.__file__)) if cache else offline.offline_dataset()
    else:
        reader = read_csv if kind == "csv" else read_folders
        data = _cached(reader, path) if cache else reader(path)
        if archives:
            data.location = f"{data.location} (unpacked from {archives[0]})"
        votes = _votes_beside(path, archives)
        if labels == "ferplus":
            data = _with_ferplus(data, votes, verbose)
    if not data.splits or all(len(s) == 0 for s in data.splits.values()):
        raise ValueError(f"No images found in {data.location!r}: the dataset is empty.\n{HOW_TO_GET_DATA}")
    if verbose:
        print(f"Loaded {data!r}")
        if data.skipped:
            print(f"  skipped {len(data.skipped)} item(s), e.g. {data.skipped[0]}")
        if kind != "offline" and votes is not None and labels != "ferplus":
            print(f"  FER+ votes found beside it ({votes}): load_fer2013(..., labels='ferplus') uses their majority vote")
    return data


def _readable(kind: str, location: str, verbose: bool) -> tuple[str, Path, list[Path]]:
    """``(kind, path, archives it came from)``: archives unpacked (two deep at most), FER+ folders refused."""
    archives: list[Path] = []
    while kind == "archive" and len(archives) < 2:  # Kaggle's competition zip holds fer2013.tar.gz
        archives.append(Path(location))
        kind, location = _unpack(archives[-1], verbose)
    if kind == "archive":
        raise ValueError(f"{location} is an archive inside {len(archives)} archives: unpack it by hand with  "
                         f"{unpack_command(location, archive_format(location) or 'zip')}")
    if kind == "ferplus_folders":
        raise ValueError(FERPLUS_FOLDERS.format(path=location))
    return kind, Path(location), archives


def _votes_beside(path: Path, archives: list[Path]) -> Path | None:
    return next(filter(None, (ferplus.find_vote_file(p) for p in [path, *archives])), None)


def find_ferplus_votes(source: str | os.PathLike | None = None) -> tuple[Path, Path] | None:
    """``(fer2013.csv, fer2013new.csv)`` when FER2013 is a CSV with FER+'s vote file beside it, else None.

    ``source`` is found as in :func:`load_fer2013` (an archive is unpacked on first use, and the
    vote file may sit inside it or beside it). Image folders give None: FER+'s votes follow the
    CSV's rows.
    """
    kind, location = locate_fer2013(source)
    if kind not in ("csv", "archive"):
        return None
    kind, path, archives = _readable(kind, location, verbose=False)
    votes = _votes_beside(path, archives) if kind == "csv" else None
    return (path, votes) if votes else None


def _with_ferplus(data: FER2013Data, votes_file: Path | None, verbose: bool) -> FER2013Data:
    """``data`` relabelled by the FER+ majority vote, with soft labels; dropped rows go to ``skipped``."""
    if votes_file is None:
        raise FileNotFoundError(f"labels='ferplus': no {ferplus.VOTE_FILE} beside {data.location}. {ferplus.HOW_TO_GET}")
    if data.source != "csv":
        raise ValueError(
            f"labels='ferplus': the FER+ votes follow the rows of fer2013.csv, and image folders do not say which row "
            f"an image came from. Load fer2013.csv (with {votes_file.name} beside it) instead of {data.location}."
        )
    votes = ferplus.read_votes(votes_file)
    splits, skipped, reasons = {}, list(data.skipped), []
    for usage, name in CSV_USAGE.items():
        rows = votes.rows(usage)
        have = len(data.splits[name]) if name in data.splits else 0
        if have != len(rows):
            raise ValueError(f"{votes_file} has {len(rows)} {usage} rows but {data.location} has {have}: "
                             "the vote file belongs to another copy of fer2013.csv")
        if not have:
            continue
        plus, why = ferplus.majority(votes.counts[rows], votes.names[rows])
        keep, reasons = plus >= 0, reasons + why
        skipped += [(f"{votes_file} line {r + 2}", f"FER+ vote: {w}") for r, w in zip(rows, why) if w]
        split = data.splits[name]
        splits[name] = Split(name, split.images[keep], plus[keep], ferplus.soft_labels(votes.counts[rows][keep]))
    dropped = ferplus.count_reasons(reasons)
    if verbose:
        kept = sum(len(s) for s in splits.values())
        print(f"FER+ labels (majority of 10 votes, {votes_file.name}): kept {kept} of {len(votes.counts)} images; "
              "dropped " + (", ".join(f"{n} {why}" for why, n in dropped.items()) or "none"))
    return FER2013Data(splits, "csv", f"{data.location} with FER+ votes {votes_file}", skipped)


# --------------------------------------------------------------------------- CSV

_USAGE_LOOKUP = {k.lower(): v for k, v in CSV_USAGE.items()}


def read_csv(path: str | os.PathLike) -> FER2013Data:
    """Read a FER2013 CSV export with :func:`helpers.data_sources.read_csv_arrays`.

    Accepted: the original ``fer2013.csv`` (``emotion,pixels,Usage``), Kaggle's
    ``icml_face_data.csv`` (``emotion, Usage, pixels``) and ``train.csv`` (``emotion,pixels``:
    all Training). Columns are found by name (spaces and case ignored); a pandas index column,
    a UTF-8 BOM, CRLF line ends, ``;`` separators and UTF-16 (Excel's "Unicode text") are fine.
    Splits: ``train``, ``public_test``, ``private_test`` (those present).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: an archive (the message says how to unpack it), a header without
            ``emotion`` and ``pixels``, or a malformed row (wrong number of pixels, non-numeric
            value, unknown emotion index or Usage), naming its line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file {str(path)!r} not found.\n{HOW_TO_GET_DATA}")
    arrays = read_csv_arrays(path, CSV_USAGE)
    splits = {name: Split(name, *arrays[name]) for name in ("train", "public_test", "private_test") if name in arrays}
    return FER2013Data(splits, "csv", str(path))


# --------------------------------------------------------------------------- image folders


def _emotion_index(folder: Path) -> int:
    name = folder.name.strip().lower()
    if name not in CLASS_NAMES:
        raise ValueError(
            f"Unknown emotion folder {str(folder)!r}. Expected folders named {', '.join(CLASS_NAMES)} "
            "(any case). Rename or remove it."
        )
    return CLASS_NAMES.index(name)


def _split_dirs(root: Path) -> dict[str, Path]:
    """Map split names to folders: ``root/train``, ``root/test``...; or ``root`` itself if it holds emotions."""
    if not root.is_dir():
        raise FileNotFoundError(f"Folder {str(root)!r} not found.\n{HOW_TO_GET_DATA}")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not is_litter(p.name))
    split_like = [p for p in subdirs if p.name.lower() in SPLIT_ALIASES]
    emotion_like = [p for p in subdirs if p.name.strip().lower() in CLASS_NAMES]
    if emotion_like and not split_like:
        return {"train": root}  # root/<emotion>/*: one split; unknown folders beside them raise below
    if emotion_like:
        raise ValueError(
            f"{str(root)!r} mixes emotion folders ({', '.join(p.name for p in emotion_like)}) and split folders "
            f"({', '.join(p.name for p in split_like)}); expected train/<emotion>/ and test/<emotion>/"
        )
    if not split_like:
        shown = ", ".join(p.name + "/" for p in subdirs[:8]) or "no folders"
        raise ValueError(
            f"No image folders found in {str(root)!r}: expected train/<emotion>/ and test/<emotion>/ "
            f"with emotions {', '.join(CLASS_NAMES)}; it holds {shown}.\n{HOW_TO_GET_DATA}"
        )
    return {SPLIT_ALIASES[p.name.lower()]: p for p in split_like}


def _list_images(root: Path) -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]:
    """``(split, label, file)`` for every image file, sorted for a reproducible order, and
    ``(file, reason)`` for every other file found in an emotion folder (litter such as
    ``.DS_Store``, ``._*``, ``Thumbs.db`` and ``__MACOSX/`` is ignored without a word)."""
    items, others = [], []
    for split, split_dir in _split_dirs(root).items():
        for emotion_dir in sorted(p for p in split_dir.iterdir() if p.is_dir() and not is_litter(p.name)):
            label = _emotion_index(emotion_dir)
            with os.scandir(emotion_dir) as entries:
                files = sorted((e.name, e.path) for e in entries if e.is_file() and not is_litter(e.name))
            for name, path in files:
                if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                    items.append((split, label, path))
                else:
                    others.append((path, "not an image file (unknown extension)"))
    return items, others


def decode_face(data: bytes, name: str | os.PathLike = "image bytes") -> np.ndarray:
    """Decode image bytes (any common format, colour or grey, any size) to 48x48x1 grayscale uint8.

    This is the one place where files become model input; the webcam pipeline uses the same
    resize (:func:`to_model_input`) so that training and inference see identical pixels.
    Plain JPEG and PNG files (the FER2013 case) are decoded with OpenCV straight to grayscale,
    which is fast; everything else (other formats, transparency, EXIF rotation, truncated or
    otherwise unusual files) goes through Pillow, which composites transparency onto white.
    The size is checked from the header first (:mod:`helpers.image_files`).

    Raises:
        helpers.image_files.ImageFileError: empty, above the byte or pixel limit, not an image,
            truncated or corrupt; the message names ``name`` and the reason.
    """
    return to_model_input(decode_gray(data, name))


def read_face(path: str | os.PathLike) -> np.ndarray:
    """An image file as the model's ``(48, 48, 1)`` uint8 input: :func:`decode_face` of its bytes, after
    its size on disk is checked. Raises ``FileNotFoundError`` or :class:`~helpers.image_files.ImageFileError`."""
    return decode_face(image_files.read_file(path), path)


def decode_gray(data: bytes, name: str | os.PathLike = "image bytes") -> np.ndarray:
    """Decode image bytes to a 2-D uint8 grayscale array at the image's own size (EXIF applied).

    Raises:
        helpers.image_files.ImageFileError: as :func:`decode_face`.
    """
    if _plain_jpeg_or_png(data):
        image_files.check_image(data, name)  # the size from the header, before decoding
    return _decode_gray(data, name)


def _decode_gray(data: bytes, name: str | os.PathLike) -> np.ndarray:
    """:func:`decode_gray` once a plain JPEG's or PNG's size is checked (Pillow checks the others)."""
    if _plain_jpeg_or_png(data):
        import cv2

        gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        if gray is not None and gray.ndim == 2 and gray.size:
            return gray
    return _pillow_gray(data, name)


def _plain_jpeg_or_png(data: bytes) -> bool:
    """True for a complete JPEG without EXIF, or a complete PNG without transparency."""
    if not image_files.is_complete(data):  # truncated (or trailing bytes): let Pillow decide
        return False
    if data[:3] == b"\xff\xd8\xff":
        return b"Exif\x00" not in data[:65536]
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 33:
        color_type = data[25]  # IHDR: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA
        return color_type in (0, 2, 3) and b"tRNS" not in data
    return False


def _decode_with_pillow(data: bytes) -> np.ndarray:
    """Pillow's decoding to the model's ``(48, 48, 1)`` uint8 input."""
    return to_model_input(_pillow_gray(data))


def _pillow_gray(data: bytes, name: str | os.PathLike = "image bytes") -> np.ndarray:
    """2-D uint8 grayscale at the image's own size (EXIF rotation applied, transparency on white)."""
    from PIL import Image, ImageOps

    with image_files.open_image(data, name) as img:
        image_files.load(img, name)
        img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            img = img.convert("RGBA")
            background = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, img)
        if img.mode.startswith("I;16") or img.mode == "I":  # 16-bit grey: scale, do not clip
            gray = (np.asarray(img, dtype=np.float64) / 257.0).round().clip(0, 255).astype(np.uint8)
        else:
            gray = np.asarray(img.convert("L"))
    return gray


def to_model_input(gray: np.ndarray) -> np.ndarray:
    """Resize a 2-D uint8 grayscale face crop to the model's ``(48, 48, 1)`` uint8 input."""
    import cv2

    gray = np.asarray(gray, dtype=np.uint8)
    if gray.shape != (IMAGE_SIZE, IMAGE_SIZE):
        interp = cv2.INTER_AREA if min(gray.shape) >= IMAGE_SIZE else cv2.INTER_LINEAR
        gray = cv2.resize(gray, (IMAGE_SIZE, IMAGE_SIZE), interpolation=interp)
    return gray[:, :, None]


def _not_a_crop(w: int, h: int) -> str | None:
    if max(h, w) > MAX_CROP_SIDE or max(h, w) > MAX_CROP_ASPECT * min(h, w):
        return (f"not a 48x48 face crop ({w}x{h} px: a whole photo?); crop the face to its own square "
                "image, or move the file out of the dataset folder")
    return None


def _read_one(file: str, limits: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]] | str:
    """``(48x48x1 face, original (height, width))``, or why the file was not used.

    The byte size, then the header's width and height are checked before decoding (``limits``: the
    bytes and pixels of :mod:`helpers.image_files`): files above them, and whole photos, are never decoded."""
    try:
        data = image_files.read_file(file, limits[0])
        if why := _not_a_crop(*image_files.check_image(data, file, limits[1], limits[0])):
            return why
        gray = _decode_gray(data, file)
    except image_files.ImageFileError as exc:  # the reason; the file is named beside it in skipped
        return exc.detail
    except Exception as exc:  # any unreadable file is reported, never silently dropped
        return f"{type(exc).__name__}: {exc}"
    return to_model_input(gray), gray.shape  # EXIF rotation keeps the header's (checked) sides


def _read_many(files: list[str]) -> list[tuple[np.ndarray, tuple[int, int]] | str]:
    limits = image_files.byte_limit(), image_files.pixel_limit()
    return [_read_one(f, limits) for f in files]


def read_folders(root: str | os.PathLike, workers: int | None = None) -> FER2013Data:
    """Read the Kaggle image-folder layout (``train/<emotion>/*``, ``test/<emotion>/*``).

    Folder names are mapped onto :data:`CLASS_NAMES` by name (not by their alphabetical
    position). Unreadable images, non-image files and images that are not face crops (larger
    than :data:`MAX_CROP_SIDE` px or more elongated than :data:`MAX_CROP_ASPECT`: whole photos)
    are skipped with a warning that names them, and listed in ``skipped``. Face crops of another
    size than 48x48 are resized, with a warning that counts them.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: an unknown emotion folder (the message lists the expected names), or no
            ``train/``/``test/`` folders at all.
    """
    root = Path(root)
    items, skipped = _list_images(root)
    files = [f for _, _, f in items]
    # OpenCV's decoder releases the GIL, so threads scale; batches keep the per-task cost small.
    batches = [files[i : i + 512] for i in range(0, len(files), 512)]
    with ThreadPoolExecutor(max_workers=workers or min(8, (os.cpu_count() or 1) * 2)) as pool:
        decoded = [r for batch in pool.map(_read_many, batches) for r in batch]
    images: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[int]] = {}
    resized = []
    for (split, label, file), result in zip(items, decoded):
        if isinstance(result, str):
            skipped.append((file, result))
            continue
        face, size = result
        if size != (IMAGE_SIZE, IMAGE_SIZE):
            resized.append(f"{file} ({size[1]}x{size[0]})")
        images.setdefault(split, []).append(face)
        labels.setdefault(split, []).append(label)
    if skipped:
        _warn_skipped(skipped, root)
    if resized:
        warnings.warn(f"Resized {len(resized)} image(s) in {root} that are not 48x48 (FER2013's size) to 48x48: "
                      + "; ".join(resized[:5]) + (" ..." if len(resized) > 5 else ""), stacklevel=2)
    order = [s for s in ("train", "val", "public_test", "private_test", "test") if s in images]
    order += sorted(set(images) - set(order))
    splits = {s: Split(s, np.stack(images[s]), np.array(labels[s], dtype=np.int64)) for s in order}
    return FER2013Data(splits, "folders", str(root), skipped)


def _warn_skipped(skipped: list[tuple[str, str]], where: Path | str) -> None:
    warnings.warn(
        f"Skipped {len(skipped)} file(s) in {where}: "
        + "; ".join(f"{f} ({why})" for f, why in skipped[:5])
        + (" ..." if len(skipped) > 5 else "")
        + ". See data.skipped for the full list.",
        stacklevel=3,
    )


# --------------------------------------------------------------------------- cache


def _fingerprint(path: Path) -> str:
    """Changes whenever a file is added, removed, renamed, resized or touched."""
    h = hashlib.sha1()
    if path.is_file():
        st = path.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()

    def walk(folder: str, prefix: str) -> None:  # os.scandir: no per-file path arithmetic
        with os.scandir(folder) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        lines = []
        for e in entries:
            if e.is_dir():
                walk(e.path, prefix + e.name + "/")
            else:
                st = e.stat()
                lines.append(f"{prefix}{e.name}:{st.st_size}:{st.st_mtime_ns}\n")
        h.update("".join(lines).encode())

    walk(str(path), "")
    return h.hexdigest()


def cache_dir() -> Path:
    """Where decoded copies are kept: ``FER_CACHE_DIR``, else ``~/.cache/fer-course``."""
    base = os.environ.get("FER_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "fer-course"
    )
    return Path(base)


def cache_file(reader_name: str, path: Path) -> Path:
    """The cache file for ``path`` in its current state: one per dataset location and content."""
    where = hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:12]
    return cache_dir() / f"{reader_name}-{where}-{_fingerprint(Path(path))}.npz"


def _draw_offline(_: Path) -> FER2013Data:
    """The offline demo data (a reader for :func:`_cached`; the path is ``offline.py`` itself)."""
    from .offline import offline_dataset

    return offline_dataset()


def _cached(reader, path: Path) -> FER2013Data:
    """``reader(path)``, from a decoded ``.npz`` copy when the files have not changed since."""
    file = cache_file(reader.__name__, path)
    if file.is_file():
        try:
            with np.load(file, allow_pickle=False) as z:
                names = [str(n) for n in z["split_names"]]
                splits = {n: Split(n, z[f"x_{n}"], z[f"y_{n}"]) for n in names}
                skipped = [(str(f), str(why)) for f, why in z["skipped"].tolist()]
                location = str(z["location"]) if "location" in z.files else str(path)
                data = FER2013Data(splits, str(z["source"]), location, skipped)
            if skipped:
                _warn_skipped(skipped, path)
            return data
        except Exception:  # a damaged cache is simply rebuilt
            pass
    data = reader(path)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        prefix = file.name.rsplit("-", 1)[0]
        for old in file.parent.glob(f"{prefix}-*.npz"):
            if old != file and ".tmp" not in old.name:
                old.unlink(missing_ok=True)  # an older state of the same dataset
        arrays = {f"x_{n}": s.images for n, s in data.splits.items()} | {f"y_{n}": s.labels for n, s in data.splits.items()}
        tmp = file.with_name(f"{file.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        np.savez(
            tmp,
            split_names=np.array(list(data.splits)),
            source=np.array(data.source),
            location=np.array(data.location),
            skipped=np.array(data.skipped, dtype=str).reshape(-1, 2),
            **arrays,
        )
        os.replace(tmp, file)  # atomic: a parallel reader sees the old state or the new one
    except OSError as exc:  # read-only home: just no cache
        warnings.warn(f"Could not write the FER2013 cache to {file}: {exc}", stacklevel=2)
    return data


# --------------------------------------------------------------------------- download


def download_fer2013(dest: str | os.PathLike = DATA_DIR / "fer2013") -> Path:
    """Download the Kaggle image folders with kagglehub and copy them to ``dest``.

    Needs a Kaggle account: an API token in ``~/.kaggle/kaggle.json`` or the ``KAGGLE_USERNAME``
    and ``KAGGLE_KEY`` variables (in Colab, ``kagglehub.login()``). On failure the error says how
    to get the files by hand.
    """
    import shutil

    dest = Path(dest)
    try:
        import kagglehub

        print(f"Downloading {KAGGLE_DATASET} with kagglehub ...")
        cached = Path(kagglehub.dataset_download(KAGGLE_DATASET))
    except Exception as exc:
        raise RuntimeError(f"Download of FER2013 failed: {type(exc).__name__}: {exc}\n{HOW_TO_GET_DATA}") from exc
    shutil.copytree(cached, dest, dirs_exist_ok=True)
    print(f"FER2013 is now in {dest}")
    return dest


#: Images per class in quick mode, per course split.
QUICK_PER_CLASS = {"train": 60, "val": 20, "test": 20}


def load_course_data(
    source: str | os.PathLike | None = None, quick: bool | None = None, seed: int = SEED, verbose: bool = True
) -> dict[str, Split]:
    """Load the data and apply the course protocol; in quick mode, small class-balanced subsets.

    Returns ``{"train": Split, "val": Split, "test": Split}``.
    """
    data = load_fer2013(source, verbose=verbose)
    splits = course_splits(data, seed=seed)
    if is_quick() if quick is None else quick:
        locked = isinstance(splits["test"], LockedSplit)
        splits = {n: balanced_subset(final_test(splits) if n == "test" else s, QUICK_PER_CLASS[n], seed)
                  for n, s in splits.items()}
        if locked:
            splits["test"] = LockedSplit(splits["test"])
        if verbose:
            print("Quick mode: " + ", ".join(f"{n} {len(s)}" for n, s in splits.items()) + " images (class-balanced)")
    return splits
