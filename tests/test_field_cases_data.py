"""The inputs people really hand the loader (../shared/field-cases 03, 08, 20, 21), rebuilt here.

Every test builds its own small input: archives of every kind (.zip, .tar, .tar.gz, .tgz,
.tar.bz2, .gz, a gunzipped tar renamed fer2013.csv, an archive inside an archive), folders
unpacked one level too deep, Mac and Windows litter, the CSV exports in circulation, whole
photos dropped into class folders, and FER+ vote files. Only the tests marked ``realdata``
read ../shared/field-cases (or FER_FIELD_CASES), and they skip when it is absent. No TensorFlow.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import tarfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import helpers.data as data
import helpers.data_sources as sources
from helpers import CLASS_NAMES, ferplus
from helpers.data import load_fer2013, locate_fer2013, read_csv, read_folders

#: ../shared/field-cases beside the checkout, or FER_FIELD_CASES (a worktree elsewhere)
FIELD_CASES = Path(os.environ.get("FER_FIELD_CASES") or Path(__file__).resolve().parents[2] / "shared" / "field-cases")
USAGES = ["Training"] * 7 + ["PublicTest"] * 3 + ["PrivateTest"] * 3


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    """Every test gets its own cache folder (decoded copies and unpacked archives)."""
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --------------------------------------------------------------------------- builders


def faces(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def csv_text(emotions=None, usages=USAGES, images=None, header=("emotion", "pixels", "Usage"), sep=",", index=False) -> str:
    """A fer2013.csv-like text; columns in ``header`` order, optional pandas index column."""
    n = len(usages)
    emotions = list(range(7)) + [0, 3, 6, 1, 2, 5] if emotions is None else emotions
    images = faces(n) if images is None else images
    lines = [(sep if index else "") + sep.join(header)]
    for i in range(n):
        values = {"emotion": str(emotions[i]), "pixels": " ".join(map(str, images[i].ravel())), "usage": usages[i]}
        fields = [values[h.strip().strip('"').lower()] for h in header]
        lines.append((f"{i}{sep}" if index else "") + sep.join(fields))
    return "\n".join(lines) + "\n"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def png(value: int, size=(48, 48), colour=False) -> bytes:
    shape = (size[1], size[0], 3) if colour else (size[1], size[0])
    buf = io.BytesIO()
    Image.fromarray(np.full(shape, value, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def kaggle_members(prefix: str = "", litter: bool = True) -> dict[str, bytes]:
    """Kaggle's image-folder layout, 1 image per class and split (grey value = 20 + 30 * class)."""
    members = {f"{prefix}{split}/{name}/{split}_{c}.png": png(20 + 30 * c)
               for split in ("train", "test") for c, name in enumerate(CLASS_NAMES)}
    if litter:  # what macOS's Archive Utility and Windows Explorer add
        members |= {f"__MACOSX/{prefix}train/._angry": b"\x00\x05\x16\x07junk", f"{prefix}train/happy/._train_3.png": b"junk",
                    f"{prefix}.DS_Store": b"\x00\x00\x00\x01Bud1", f"{prefix}train/happy/Thumbs.db": b"\xd0\xcf\x11\xe0junk",
                    f"{prefix}test/desktop.ini": b"[.ShellClassInfo]"}
    return members


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return path


def make_tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as t:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            t.addfile(info, io.BytesIO(content))
    return path


def assert_same_csv(got, expected) -> None:
    assert list(got.splits) == list(expected.splits)
    for name in expected.splits:
        np.testing.assert_array_equal(got[name].images, expected[name].images)
        np.testing.assert_array_equal(got[name].labels, expected[name].labels)


def quiet_load(*args, **kw):
    """load_fer2013 that fails on any warning (litter must be ignored without noise)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_fer2013(*args, verbose=False, **kw)


# --------------------------------------------------------------------------- 03: archives of the CSV


CSV = csv_text().encode()


def _gunzipped_tar(tmp: Path) -> Path:
    """What some Windows unpackers leave: the tar inside fer2013.tar.gz, named fer2013.csv."""
    raw = make_tar(tmp / "x.tar", {"fer2013/fer2013.csv": CSV, "fer2013/README": b"readme"}, "w").read_bytes()
    return write(tmp / "fer2013.csv", raw)


ARCHIVES = {
    "tar.gz": lambda t: make_tar(t / "fer2013.tar.gz", {"fer2013/fer2013.csv": CSV, "fer2013/README": b"x"}),
    "tgz": lambda t: make_tar(t / "fer2013.tgz", {"fer2013.csv": CSV}),
    "tar": lambda t: make_tar(t / "fer2013.tar", {"fer2013/fer2013.csv": CSV}, "w"),
    "tar.bz2": lambda t: make_tar(t / "fer2013.tar.bz2", {"fer2013/fer2013.csv": CSV}, "w:bz2"),
    "gunzipped tar named .csv": _gunzipped_tar,
    "csv.gz": lambda t: write(t / "fer2013.csv.gz", gzip.compress(CSV)),
    "csv.bz2": lambda t: write(t / "fer2013.csv.bz2", bz2.compress(CSV)),
    "zip": lambda t: make_zip(t / "fer2013.zip", {"fer2013.csv": CSV}),
    "zip, CSV under another name": lambda t: make_zip(t / "fer2013.zip", {"FER2013 (1).csv": CSV, "fer2013new.csv": b"x"}),
    "zip, nested folder": lambda t: make_zip(t / "archive.zip", {"fer2013/fer2013.csv": CSV, "__MACOSX/fer2013/._fer2013.csv": b"x"}),
    "zip holding a tar.gz": lambda t: make_zip(
        t / "challenge.zip", {"fer2013.tar.gz": make_tar(t / "inner" / "fer2013.tar.gz", {"fer2013/fer2013.csv": CSV}).read_bytes()}
    ),
    "Kaggle competition zip (icml_face_data.csv)": lambda t: make_zip(
        t / "challenges-in-representation-learning.zip",
        {"icml_face_data.csv": csv_text(header=("emotion", " Usage", " pixels")).encode(), "example_submission.csv": b"id\n"},
    ),
}


@pytest.mark.parametrize("kind", list(ARCHIVES))
def test_csv_archives_are_read(tmp_path, kind):
    expected = read_csv(write(tmp_path / "plain" / "fer2013.csv", CSV))
    archive = ARCHIVES[kind](tmp_path / "given")
    assert locate_fer2013(archive)[0] == "archive"
    got = quiet_load(archive)
    assert_same_csv(got, expected)
    assert str(archive) in got.location  # says where it came from


def test_archive_is_unpacked_once_then_cached(tmp_path, monkeypatch, capsys):
    archive = ARCHIVES["tar.gz"](tmp_path)
    first = load_fer2013(archive)
    assert "is an archive (gzip): unpacking it once" in capsys.readouterr().out
    calls = []
    monkeypatch.setattr(data, "unpack_archive", lambda *a: calls.append(a) or sources.unpack_archive(*a))
    second = load_fer2013(archive)
    assert "unpacking" not in capsys.readouterr().out  # already unpacked: nothing written again
    assert_same_csv(second, first)


def test_read_csv_refuses_an_archive_in_one_line(tmp_path):
    for kind in ("tar.gz", "gunzipped tar named .csv", "zip"):
        archive = ARCHIVES[kind](tmp_path / kind)
        with pytest.raises(ValueError, match=r"archive, not a CSV: load_fer2013\(.*\) unpacks it, or unpack it with") as e:
            read_csv(archive)
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("magic, tool", [(b"7z\xbc\xaf\x27\x1c\x00\x04", "7z x"), (b"Rar!\x1a\x07\x01\x00", "unrar x")])
def test_7z_and_rar_are_refused_with_the_command_that_unpacks_them(tmp_path, magic, tool):
    path = write(tmp_path / "fer2013.csv", magic + b"\x00" * 600)  # whatever the name says
    with pytest.raises(ValueError, match=f"Python cannot read: unpack it with  {tool}") as e:
        load_fer2013(path, verbose=False)
    assert "\n" not in str(e.value)


def test_truncated_download_says_download_again(tmp_path):
    good = ARCHIVES["tar.gz"](tmp_path).read_bytes()
    cut = write(tmp_path / "cut" / "fer2013.tar.gz", good[: len(good) // 2])
    with pytest.raises(ValueError, match="Python cannot read it .*unpack it with  tar -xf .*the download is incomplete"):
        load_fer2013(cut, verbose=False)


@pytest.mark.parametrize("member", ["../evil.csv", "fer2013/../../evil.csv", "/tmp/evil.csv", "C:/evil.csv", "..\\evil.csv"])
@pytest.mark.parametrize("maker", ["zip", "tar.gz"])
def test_no_path_traversal(tmp_path, member, maker):
    members = {"fer2013.csv": CSV, member: b"pwned"}
    archive = (make_zip if maker == "zip" else make_tar)(tmp_path / "in" / f"a.{maker}", members)
    with pytest.raises(sources.UnsafeArchiveError, match="outside the target folder"):
        load_fer2013(archive, verbose=False)
    assert not list(tmp_path.rglob("evil.csv")) and not Path("/tmp/evil.csv").exists()
    assert not list((tmp_path / "cache").rglob("*.csv"))  # nothing half-unpacked left behind


def test_links_in_a_tar_are_not_created(tmp_path):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as t:
        info = tarfile.TarInfo("fer2013.csv")
        info.size = len(CSV)
        t.addfile(info, io.BytesIO(CSV))
        link = tarfile.TarInfo("passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t.addfile(link)
    into = sources.unpack_archive(archive, tmp_path / "out")
    assert sorted(p.name for p in into.iterdir()) == ["fer2013.csv"]


def test_archive_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_UNPACKED_BYTES", 10_000)
    archive = make_zip(tmp_path / "bomb.zip", {"fer2013.csv": b"0" * 50_000})
    with pytest.raises(sources.UnsafeArchiveError, match="unpacks to more than"):
        load_fer2013(archive, verbose=False)


def test_archive_in_data_folder_is_found(no_real_data):
    make_zip(no_real_data / "data" / "archive.zip", kaggle_members())
    assert locate_fer2013() == ("archive", str(no_real_data / "data" / "archive.zip"))
    d = quiet_load()
    assert d.source == "folders" and len(d["train"]) == len(d["test"]) == 7


# --------------------------------------------------------------------------- 21: Kaggle zip, nesting, litter


@pytest.mark.parametrize("prefix", ["", "archive/", "fer2013/archive/"])
def test_kaggle_zip_loads_with_litter_and_wrapping_folders(tmp_path, prefix):
    d = quiet_load(make_zip(tmp_path / "archive.zip", kaggle_members(prefix)))
    assert d.skipped == []
    for split in ("train", "test"):
        values = d[split].images.reshape(7, -1).mean(1)
        np.testing.assert_allclose(values, 20 + 30 * d[split].labels)  # labels by folder name
        assert d[split].counts().tolist() == [1] * 7


def unpack_to(folder: Path, members: dict[str, bytes]) -> Path:
    for name, content in members.items():
        write(folder / name, content)
    return folder


@pytest.mark.parametrize("prefix", ["archive/", "archive/archive/", "FER-2013/"])
def test_unpacked_one_or_two_levels_too_deep(tmp_path, prefix):
    root = unpack_to(tmp_path / "unzipped", kaggle_members(prefix))
    d = quiet_load(root)
    assert d.location == str(tmp_path / "unzipped" / prefix.rstrip("/"))
    assert d.skipped == [] and len(d["train"]) == len(d["test"]) == 7


def test_litter_inside_split_and_class_folders_is_ignored_quietly(tmp_path):
    root = unpack_to(tmp_path / "fer", kaggle_members())
    write(root / "train" / "__MACOSX" / "._happy", b"x")
    write(root / "test" / ".DS_Store", b"x")
    write(root / "train" / "sad" / "Thumbs.db", b"x")
    d = quiet_load(root)
    assert d.skipped == [] and len(d["train"]) == 7


def test_csv_in_a_wrapping_folder(tmp_path):
    write(tmp_path / "download" / "fer2013" / "fer2013.csv", CSV)
    write(tmp_path / "download" / "__MACOSX" / "fer2013" / "._fer2013.csv", b"x")
    assert locate_fer2013(tmp_path / "download")[0] == "csv"
    assert_same_csv(quiet_load(tmp_path / "download"), read_csv(tmp_path / "download" / "fer2013" / "fer2013.csv"))


def test_a_folder_without_fer2013_says_what_it_holds(tmp_path):
    write(tmp_path / "stuff" / "photos" / "a.jpg", png(1))
    write(tmp_path / "stuff" / "notes" / "b.txt", b"x")
    with pytest.raises(ValueError, match=r"No image folders or FER2013 CSV found in .*it holds notes/, photos/"):
        load_fer2013(tmp_path / "stuff", verbose=False)


# --------------------------------------------------------------------------- CSV exports people have


def test_csv_variants_load_the_same(tmp_path):
    expected = read_csv(write(tmp_path / "fer2013.csv", csv_text()))
    variants = {
        "icml_face_data.csv": csv_text(header=("emotion", " Usage", " pixels")),  # Kaggle: other order, spaces
        "excel.csv": "\ufeff" + csv_text().replace("\n", "\r\n") + ",,\r\n,,\r\n",  # BOM, CRLF, empty rows
        "pandas.csv": csv_text(index=True),  # df.to_csv() with its index
        "semicolon.csv": csv_text(sep=";"),  # Excel in a locale with decimal commas
        "quoted.csv": csv_text(header=('"emotion"', '"pixels"', '"Usage"')),
        "lowercase_usage.csv": csv_text(usages=[u.lower() for u in USAGES]),
    }
    for name, text in variants.items():
        assert_same_csv(read_csv(write(tmp_path / name, text)), expected)
    utf16 = write(tmp_path / "unicode.txt", csv_text(sep="\t").encode("utf-16"))  # Excel's "Unicode text"
    assert_same_csv(read_csv(utf16), expected)
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(tmp_path / "fer2013.csv")
    frame.to_csv(tmp_path / "real_pandas.csv")  # the real thing: header ",emotion,pixels,Usage"
    assert (tmp_path / "real_pandas.csv").read_text().startswith(",emotion")
    assert_same_csv(read_csv(tmp_path / "real_pandas.csv"), expected)


def test_kaggle_train_csv_without_usage_is_all_training(tmp_path):
    d = read_csv(write(tmp_path / "train.csv", csv_text(header=("emotion", "pixels"))))
    assert list(d.splits) == ["train"] and len(d["train"]) == len(USAGES)


def test_unlabelled_kaggle_test_csv_says_so(tmp_path):
    path = write(tmp_path / "test.csv", "pixels\n" + " ".join(["0"] * 2304) + "\n")
    with pytest.raises(ValueError, match="no emotion column: this is an unlabelled file"):
        read_csv(path)


def test_bad_row_line_numbers_survive_bom_and_crlf(tmp_path):
    text = "\ufeff" + csv_text().replace("\n", "\r\n")
    lines = text.split("\r\n")
    lines[3] = "9" + lines[3][1:]
    with pytest.raises(ValueError, match="line 4: emotion 9 is outside 0-6"):
        read_csv(write(tmp_path / "bad.csv", "\r\n".join(lines)))


def test_spreadsheet_says_save_as_csv(tmp_path):
    workbook = make_zip(tmp_path / "fer2013.xlsx", {"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"})
    with pytest.raises(ValueError, match="is a spreadsheet: open it and save it as 'CSV UTF-8'"):
        load_fer2013(workbook, verbose=False)


def test_binary_file_named_csv_is_a_clear_error(tmp_path):
    path = write(tmp_path / "fer2013.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 4)  # an old .xls
    with pytest.raises(ValueError, match="not a text CSV .*save it as 'CSV UTF-8'"):
        read_csv(path)


# --------------------------------------------------------------------------- 20: photos in class folders


def test_whole_photos_in_class_folders_are_named_counted_and_skipped(tmp_path):
    from skimage import data as skdata

    root = unpack_to(tmp_path / "fer2013", kaggle_members(litter=False))
    Image.fromarray(skdata.astronaut()).save(root / "train" / "happy" / "my_photo.png")  # 512x512 colour
    write(root / "train" / "neutral" / "holiday.jpg", png(100, size=(512, 600), colour=True))
    write(root / "train" / "sad" / "banner.png", png(100, size=(150, 40)))  # small but not a face crop
    write(root / "train" / "fear" / "crop96.png", png(200, size=(96, 96)))  # a face crop of another size
    with pytest.warns(UserWarning) as record:
        d = read_folders(root)
    messages = " | ".join(str(w.message) for w in record)
    assert "Skipped 3 file(s)" in messages
    for name in ("my_photo.png", "holiday.jpg", "banner.png"):
        assert name in messages
    assert "Resized 1 image(s)" in messages and "crop96.png (96x96)" in messages
    skipped = {Path(f).name: why for f, why in d.skipped}
    assert set(skipped) == {"my_photo.png", "holiday.jpg", "banner.png"}
    assert skipped["my_photo.png"].startswith("not a 48x48 face crop (512x512 px")
    assert d["train"].counts().tolist() == [1, 1, 2, 1, 1, 1, 1]  # the 96x96 crop is kept


def test_photo_skips_are_reported_again_from_the_cache(tmp_path):
    root = unpack_to(tmp_path / "fer2013", kaggle_members(litter=False))
    write(root / "train" / "happy" / "photo.png", png(100, size=(800, 600), colour=True))
    for _ in range(2):  # decoded, then from the cache
        with pytest.warns(UserWarning, match="photo.png"):
            d = load_fer2013(root, verbose=False)
        assert [Path(f).name for f, _ in d.skipped] == ["photo.png"]


# --------------------------------------------------------------------------- 08: FER+


def vote_row(**votes: int) -> list[int]:
    return [votes.get(c, 0) for c in ferplus.VOTE_COLUMNS]


#: (FER2013 label, FER+ votes, image name, expected FER+ label or the reason it is dropped)
FERPLUS_ROWS = [
    (0, vote_row(anger=6, disgust=4), "a", 0),
    (1, vote_row(disgust=5, anger=3, neutral=2), "a", 1),
    (2, vote_row(fear=4, surprise=3, sadness=3), "a", 2),
    (3, vote_row(happiness=10), "a", 3),
    (4, vote_row(sadness=7, neutral=3), "a", 4),
    (5, vote_row(surprise=6, fear=4), "a", 5),
    (6, vote_row(neutral=9, sadness=1), "a", 6),
    (4, vote_row(neutral=8, sadness=2), "a", 6),  # FER2013 said sad, the crowd says neutral
    (3, vote_row(happiness=5, neutral=5), "a", "tie"),
    (2, vote_row(unknown=6, fear=4), "a", "unknown"),
    (0, vote_row(NF=10), "", "not a face"),
    (6, vote_row(contempt=6, neutral=4), "a", "contempt"),
    (5, vote_row(), "a", "no votes"),
]


def ferplus_pair(folder: Path, rows=FERPLUS_ROWS) -> Path:
    """fer2013.csv and fer2013new.csv (FER+'s format) side by side; returns the CSV."""
    usages = (["Training"] * 6 + ["PublicTest"] * 4 + ["PrivateTest"] * 3)[: len(rows)]
    csv_path = write(folder / "fer2013.csv", csv_text(emotions=[r[0] for r in rows], usages=usages, images=faces(len(rows), 5)))
    header = "Usage,Image name," + ",".join(ferplus.VOTE_COLUMNS)
    lines = [f"{u},{name and f'fer{i:07d}.png'},{','.join(map(str, votes))}" for i, (u, (_, votes, name, _)) in enumerate(zip(usages, rows))]
    write(folder / "fer2013new.csv", "\n".join([header, *lines]) + "\n")
    return csv_path


def test_ferplus_file_beside_the_csv_is_mentioned(tmp_path, capsys):
    d = load_fer2013(ferplus_pair(tmp_path / "pair"))
    out = capsys.readouterr().out
    assert "FER+ votes found beside it" in out and "labels='ferplus'" in out
    assert d["train"].labels.tolist() == [r[0] for r in FERPLUS_ROWS[:6]] and d["train"].soft_labels is None
    load_fer2013(write(tmp_path / "alone" / "fer2013.csv", csv_text()))
    assert "FER+" not in capsys.readouterr().out


def test_ferplus_majority_vote_drops_and_counts(tmp_path, capsys):
    path = ferplus_pair(tmp_path)
    d = load_fer2013(path, labels="ferplus")
    out = capsys.readouterr().out
    assert "kept 8 of 13 images; dropped " in out
    for reason in ("1 tie", "1 unknown", "1 not a face", "1 contempt", "1 no votes"):
        assert reason in out
    expected = [r[3] for r in FERPLUS_ROWS]
    by_split = {"train": expected[:6], "public_test": expected[6:10], "private_test": expected[10:]}
    for name, want in by_split.items():
        kept = [w for w in want if isinstance(w, int)]
        assert d[name].labels.tolist() == kept, name
        assert d[name].soft_labels.shape == (len(kept), 7) and d[name].soft_labels.dtype == np.float32
        np.testing.assert_allclose(d[name].soft_labels.sum(1), 1, atol=1e-6)
        assert (d[name].soft_labels.argmax(1) == d[name].labels).all()
    reasons = sorted(why for _, why in d.skipped)
    assert reasons == sorted(f"FER+ vote: {r}" for r in ("tie: neutral/happiness", "unknown", "not a face", "contempt", "no votes"))
    assert {f.rsplit(" ", 1)[1] for f, _ in d.skipped} == {"10", "11", "12", "13", "14"}  # file lines (header = 1)
    # soft labels: fear 4, surprise 3, sadness 3 -> in CLASS_NAMES order
    np.testing.assert_allclose(d["train"].soft_labels[2], [0, 0, 0.4, 0, 0.3, 0.3, 0], atol=1e-6)
    # images stay with their rows: the kept PublicTest image 0 is CSV row 7
    np.testing.assert_array_equal(d["public_test"].images[1, ..., 0], faces(13, 5)[7])
    assert d["train"].subset(np.array([2])).soft_labels.shape == (1, 7)  # subsets keep them


def test_ferplus_from_the_cache_and_from_an_archive(tmp_path):
    path = ferplus_pair(tmp_path / "pair")
    first = load_fer2013(path, labels="ferplus", verbose=False)
    again = load_fer2013(path, labels="ferplus", verbose=False)  # the CSV now comes from the cache
    archive = make_tar(tmp_path / "fer2013.tar.gz", {"fer2013/fer2013.csv": path.read_bytes(),
                                                    "fer2013/fer2013new.csv": (path.parent / "fer2013new.csv").read_bytes()})
    packed = load_fer2013(archive, labels="ferplus", verbose=False)
    for other in (again, packed):
        for name in first.splits:
            np.testing.assert_array_equal(other[name].labels, first[name].labels)
            np.testing.assert_array_equal(other[name].soft_labels, first[name].soft_labels)


def test_ferplus_mistakes_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no fer2013new.csv beside .* download fer2013new.csv from"):
        load_fer2013(write(tmp_path / "alone" / "fer2013.csv", csv_text()), labels="ferplus", verbose=False)
    path = ferplus_pair(tmp_path / "short", FERPLUS_ROWS)
    votes = path.parent / "fer2013new.csv"
    votes.write_text("\n".join(votes.read_text().splitlines()[:-1]) + "\n")  # one row fewer
    with pytest.raises(ValueError, match="has 2 PrivateTest rows but .* has 3: the vote file belongs to another copy"):
        load_fer2013(path, labels="ferplus", verbose=False)
    folders = unpack_to(tmp_path / "folders", kaggle_members(litter=False))
    write(folders / "fer2013new.csv", votes.read_text())
    with pytest.raises(ValueError, match="image folders do not say which row"):
        load_fer2013(folders, labels="ferplus", verbose=False)
    with pytest.raises(ValueError, match="labels must be 'fer2013' or 'ferplus'"):
        load_fer2013(path, labels="fer+", verbose=False)


def test_ferplus_folder_layout_is_named(tmp_path):
    """FER+'s generate_training_data.py writes FER2013Train/Valid/Test with a label.csv of votes."""
    for split in ("FER2013Train", "FER2013Valid", "FER2013Test"):
        write(tmp_path / "generated" / split / "fer0000000.png", png(10))
        write(tmp_path / "generated" / split / "label.csv", "fer0000000.png,7,3,0,0,0,0,0,0,0,0\n")
    assert locate_fer2013(tmp_path / "generated")[0] == "ferplus_folders"
    for labels in ("fer2013", "ferplus"):
        with pytest.raises(ValueError, match="FER2013Train/FER2013Valid/FER2013Test layout that FER\\+'s .*fer2013.csv"):
            load_fer2013(tmp_path / "generated", labels=labels, verbose=False)


def test_disagreement_counts_how_often_fer2013_loses_the_vote():
    fer = np.array([r[0] for r in FERPLUS_ROWS])
    votes = np.array([r[1] for r in FERPLUS_ROWS])
    names = np.array([r[2] for r in FERPLUS_ROWS])
    result = ferplus.disagreement(fer, votes, names)
    assert result["compared"] == 8 and result["lost"] == 1 and result["rate"] == pytest.approx(1 / 8)
    assert result["per_class"][CLASS_NAMES.index("sad")] == pytest.approx(0.5)  # 1 of 2 sad rows lost
    assert result["per_class"][CLASS_NAMES.index("happy")] == 0
    assert sum(result["dropped"].values()) == 5


# --------------------------------------------------------------------------- the real field cases (skip when absent)


def field_case(*parts: str) -> Path:
    path = FIELD_CASES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["fer2013.tar.gz", "fer2013.csv"])
def test_real_field_case_03_tar_not_extracted(name):
    d = quiet_load(field_case("03-tar-not-extracted", name))
    assert d.source == "csv" and sum(len(s) for s in d.splits.values()) > 0


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["archive.zip", "unzipped_twice", "mac_unzip"])
def test_real_field_case_21_kaggle_zip_and_nesting(name):
    d = quiet_load(field_case("21-kaggle-zip-and-nesting", name))
    assert d.source == "folders" and d.skipped == [] and set(d.splits) == {"train", "test"}


@pytest.mark.realdata
def test_real_field_case_20_own_photos():
    with pytest.warns(UserWarning, match="my_photo_astronaut.png"):
        d = load_fer2013(field_case("20-own-photos-in-class-folders", "fer2013"), verbose=False)
    assert sorted(Path(f).name for f, _ in d.skipped) == ["my_photo_astronaut.png", "my_photo_hopper.jpg"]


@pytest.mark.realdata
def test_real_field_case_08_ferplus(capsys):
    path = field_case("08-ferplus", "csv_pair", "fer2013.csv")
    plain = load_fer2013(path)
    assert "FER+ votes found beside it" in capsys.readouterr().out
    plus = load_fer2013(path, labels="ferplus", verbose=False)
    dropped = sum(len(s) for s in plain.splits.values()) - sum(len(s) for s in plus.splits.values())
    assert dropped == len(plus.skipped) > 0
    with pytest.raises(ValueError, match="FER\\+'s generate_training_data.py"):
        load_fer2013(field_case("08-ferplus", "generated"), verbose=False)


def test_find_ferplus_votes_beside_inside_or_outside_an_archive(tmp_path):
    path = ferplus_pair(tmp_path / "pair")
    votes = path.parent / "fer2013new.csv"
    assert data.find_ferplus_votes(path) == (path, votes)
    assert data.find_ferplus_votes(path.parent) == (path, votes)
    inside = make_tar(tmp_path / "in" / "fer2013.tar.gz", {"fer2013/fer2013.csv": path.read_bytes(), "fer2013/fer2013new.csv": votes.read_bytes()})
    found = data.find_ferplus_votes(inside)
    assert found is not None and found[1].name == "fer2013new.csv" and found[1].read_bytes() == votes.read_bytes()
    beside = make_tar(tmp_path / "out" / "fer2013.tar.gz", {"fer2013/fer2013.csv": path.read_bytes()})
    write(beside.parent / "fer2013new.csv", votes.read_bytes())
    assert data.find_ferplus_votes(beside)[1] == beside.parent / "fer2013new.csv"
    assert data.find_ferplus_votes(write(tmp_path / "alone" / "fer2013.csv", csv_text())) is None
    assert data.find_ferplus_votes(unpack_to(tmp_path / "folders", kaggle_members(litter=False))) is None
    assert data.find_ferplus_votes("offline") is None


def test_litter_only_data_folder_is_a_fresh_clone(no_real_data):
    write(no_real_data / "data" / "fer2013" / ".DS_Store", b"x")
    write(no_real_data / "data" / "fer2013" / ".gitkeep", b"")
    assert locate_fer2013()[0] == "offline"
