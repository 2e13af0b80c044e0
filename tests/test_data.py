"""helpers.data: both FER2013 formats, label mapping, every bad input, the cache, the protocol,
and the offline demo data. Real-data tests use ../shared (or FER2013_DIR) and skip without it."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import helpers.data as data
from helpers import CLASS_NAMES
from helpers.data import FER2013Data, Split, course_splits, decode_face, load_fer2013, read_csv, read_folders
from test_image_files import hostile_files

# Counts from ../shared/README.md (train / test per class, in CLASS_NAMES order).
README_TRAIN = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830, "surprise": 3171, "neutral": 4965}
README_TEST = {"angry": 467, "disgust": 56, "fear": 496, "happy": 895, "sad": 653, "surprise": 415, "neutral": 607}
SAMPLE_TRAIN = [60, 20, 70, 110, 80, 50, 90]
SAMPLE_PUBLIC_TEST = [12, 4, 14, 22, 16, 10, 18]


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    """Every test gets its own cache folder: no test reads or deletes the user's cache."""
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --------------------------------------------------------------------------- builders


def pixels_of(value: int | np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.uint8), (48, 48)).copy()


def write_csv(path: Path, rows: list[tuple], header: str = "emotion,pixels,Usage") -> Path:
    """rows: (emotion, pixels as 48x48 array or raw string, usage)."""
    lines = [header]
    for emotion, pixels, usage in rows:
        text = pixels if isinstance(pixels, str) else " ".join(map(str, np.asarray(pixels).ravel()))
        lines.append(f"{emotion},{text},{usage}")
    path.write_text("\n".join(lines) + "\n")
    return path


def save_image(path: Path, array: np.ndarray, fmt: str | None = None, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt, **kw)
    return path


def class_folders(root: Path, value_of=lambda c: 20 + 30 * c, per_class: int = 2, splits=("train", "test")) -> Path:
    """Kaggle layout with every class; each image's grey value encodes its class."""
    for split in splits:
        for c, name in enumerate(CLASS_NAMES):
            for i in range(per_class):
                save_image(root / split / name / f"{i}.png", pixels_of(value_of(c)))
    return root


# --------------------------------------------------------------------------- CSV


def test_read_csv_generated(tmp_path):
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (6, 48, 48), dtype=np.uint8)
    rows = [(3, faces[0], "Training"), (0, faces[1], "Training"), (6, faces[2], "Training"),
            (1, faces[3], "PublicTest"), (5, faces[4], "PublicTest"), (2, faces[5], "PrivateTest")]
    d = read_csv(write_csv(tmp_path / "fer2013.csv", rows))
    assert d.source == "csv"
    assert list(d.splits) == ["train", "public_test", "private_test"]
    assert d["train"].images.shape == (3, 48, 48, 1) and d["train"].images.dtype == np.uint8
    assert d["train"].labels.dtype == np.int64
    assert d["train"].labels.tolist() == [3, 0, 6]
    assert d["public_test"].labels.tolist() == [1, 5] and d["private_test"].labels.tolist() == [2]
    np.testing.assert_array_equal(d["train"].images[..., 0], faces[:3])
    np.testing.assert_array_equal(d["private_test"].images[0, ..., 0], faces[5])


def test_read_csv_real_sample(fer_csv_sample):
    d = load_fer2013(fer_csv_sample, verbose=False)
    assert d.source == "csv" and set(d.splits) == {"train", "public_test"}
    assert d["train"].counts().tolist() == SAMPLE_TRAIN
    assert d["public_test"].counts().tolist() == SAMPLE_PUBLIC_TEST
    for split in d.splits.values():
        assert split.images.shape[1:] == (48, 48, 1) and split.images.dtype == np.uint8
        assert split.images.std() > 20  # real faces, not blank
    # without PrivateTest, the course carves val from Training and tests on PublicTest
    s = course_splits(d)
    assert len(s["test"]) == 96 and len(s["train"]) + len(s["val"]) == 480


# --------------------------------------------------------------------------- image folders


def test_read_folders_formats_sizes_colour(tmp_path):
    root = tmp_path / "fer"
    save_image(root / "train" / "happy" / "rgb.png", np.full((80, 100, 3), (255, 0, 0), np.uint8))
    save_image(root / "train" / "happy" / "big.jpg", np.full((200, 150, 3), 120, np.uint8), quality=95)
    save_image(root / "train" / "sad" / "grey.jpeg", pixels_of(90), quality=95)
    save_image(root / "train" / "sad" / "small.png", np.full((16, 16), 200, np.uint8))
    save_image(root / "train" / "neutral" / "pic.bmp", np.full((60, 60, 3), 50, np.uint8))
    save_image(root / "test" / "fear" / "alpha.png", np.zeros((48, 48, 4), np.uint8))  # fully transparent
    (root / "test" / "angry").mkdir(parents=True)
    import cv2

    cv2.imwrite(str(root / "test" / "angry" / "16bit.png"), np.full((48, 48), 40000, np.uint16))
    d = read_folders(root)
    assert d.skipped == []
    assert set(d.splits) == {"train", "test"} and len(d["train"]) == 5 and len(d["test"]) == 2
    for split in d.splits.values():
        assert split.images.shape[1:] == (48, 48, 1) and split.images.dtype == np.uint8
    got = sorted((int(l), float(im.mean())) for im, l in zip(d["train"].images, d["train"].labels))
    expected = sorted([(3, 76.2), (3, 120), (4, 90), (4, 200), (6, 50)])  # red -> luma 76
    assert [l for l, _ in got] == [l for l, _ in expected]
    assert [m for _, m in got] == pytest.approx([m for _, m in expected], abs=2)
    test_means = dict(zip(d["test"].labels.tolist(), d["test"].images.reshape(2, -1).mean(1)))
    assert test_means[CLASS_NAMES.index("fear")] == 255  # transparency composited onto white
    assert test_means[CLASS_NAMES.index("angry")] == pytest.approx(40000 / 257, abs=1)  # 16 bit scaled, not clipped


def test_fast_and_pillow_decoders_agree(tmp_path):
    rng = np.random.default_rng(1)
    for fmt, suffix in (("JPEG", "jpg"), ("PNG", "png")):
        for shape in ((48, 48), (64, 64, 3), (30, 40)):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(buf, fmt)
            raw = buf.getvalue()
            assert data._plain_jpeg_or_png(raw)
            fast, slow = decode_face(raw), data._decode_with_pillow(raw)
            assert fast.shape == (48, 48, 1) and fast.dtype == np.uint8
            diff = np.abs(fast.astype(int) - slow)
            # grey: identical; colour JPEG: OpenCV takes the decoded luma, Pillow converts RGB
            # back to luma after chroma upsampling, so noisy colour differs by a few levels
            assert diff.mean() < 1 and diff.max() <= (0 if len(shape) == 2 else 12), (fmt, shape, diff.max())


def test_exif_rotation_is_applied():
    img = np.zeros((48, 48), np.uint8)
    img[:, 24:] = 255  # right half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", exif=exif, quality=95)
    face = decode_face(buf.getvalue())[..., 0].astype(int)
    assert face[40:, :].mean() > 200 and face[:8, :].mean() < 50  # white half now at the bottom


def test_folder_names_map_by_name_not_position(tmp_path):
    """Folders sort alphabetically on disk (angry disgust fear happy neutral sad surprise);
    labels must be CLASS_NAMES indices of the folder *names*."""
    root = class_folders(tmp_path / "fer")
    (root / "train" / "happy").rename(root / "train" / "Happy")  # any case
    d = read_folders(root)
    for split in d.splits.values():
        values = split.images.reshape(len(split), -1).mean(1)
        np.testing.assert_allclose(values, 20 + 30 * split.labels)
        assert split.counts().tolist() == [2] * 7
    alphabetical = sorted(CLASS_NAMES)
    assert alphabetical != list(CLASS_NAMES)  # the trap is real


def test_emotion_folders_directly_under_root(tmp_path):
    root = tmp_path / "flat"
    for c in (0, 3):
        save_image(root / CLASS_NAMES[c] / "a.png", pixels_of(c))
    d = read_folders(root)
    assert list(d.splits) == ["train"] and sorted(d["train"].labels.tolist()) == [0, 3]


@pytest.fixture(scope="module")
def real_folders(fer_dir, tmp_path_factory):
    """The full real dataset, read from the folders once for this module (no cache)."""
    return load_fer2013(fer_dir, cache=False, verbose=False)


@pytest.mark.realdata
def test_full_real_load_matches_readme(real_folders):
    d = real_folders
    assert d.source == "folders" and d.skipped == []
    assert list(d.splits) == ["train", "test"]
    n_test = len(d["test"])  # PublicTest alone (../shared), or Kaggle's copy with PublicTest and PrivateTest merged
    assert len(d["train"]) == 28709 and n_test in (3589, 7178)
    assert d["train"].counts().tolist() == [README_TRAIN[c] for c in CLASS_NAMES]
    public_test = np.array([README_TEST[c] for c in CLASS_NAMES])
    assert (d["test"].counts() == public_test).all() if n_test == 3589 else (d["test"].counts() >= public_test).all()
    assert d["train"].images.shape == (28709, 48, 48, 1) and d["train"].images.dtype == np.uint8
    s = course_splits(d)
    assert len(s["train"]) + len(s["val"]) == 28709 and len(s["test"]) == n_test


@pytest.mark.realdata
def test_csv_sample_images_found_in_folders_with_same_label(real_folders, fer_csv_sample):
    """The CSV (index order) and the folders (alphabetical on disk) agree on every label."""
    csv_data = read_csv(fer_csv_sample)
    for csv_split, folder_split in (("train", "train"), ("public_test", "test")):
        labels_of: dict[str, set[int]] = {}
        folder = real_folders[folder_split]
        for image, label in zip(folder.images, folder.labels):
            labels_of.setdefault(hashlib.sha1(image.tobytes()).hexdigest(), set()).add(int(label))
        sample = csv_data[csv_split]
        for i, (image, label) in enumerate(zip(sample.images, sample.labels)):
            key = hashlib.sha1(image.tobytes()).hexdigest()
            assert key in labels_of, f"{csv_split} row {i} not found among the {folder_split}/ images"
            assert int(label) in labels_of[key], (
                f"{csv_split} row {i}: CSV says {CLASS_NAMES[label]}, folders say "
                f"{[CLASS_NAMES[c] for c in labels_of[key]]}"
            )


# --------------------------------------------------------------------------- bad input


def test_missing_path_says_where_and_how(tmp_path):
    missing = tmp_path / "nowhere" / "fer2013"
    for call in (lambda: load_fer2013(missing), lambda: read_csv(missing / "fer2013.csv"), lambda: read_folders(missing)):
        with pytest.raises(FileNotFoundError) as err:
            call()
        assert "nowhere" in str(err.value) and "kaggle" in str(err.value).lower()
        assert "download_fer2013" in str(err.value)


def test_fer2013_dir_pointing_nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv("FER2013_DIR", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError) as err:
        load_fer2013()
    assert str(tmp_path / "typo") in str(err.value) and "FER2013_DIR" in str(err.value)
    assert "kaggle" in str(err.value).lower()


def test_no_data_anywhere(no_real_data):
    with pytest.raises(FileNotFoundError, match="How to get FER2013"):
        load_fer2013(allow_offline=False)
    assert data.locate_fer2013()[0] == "offline"


def test_corrupt_images_are_skipped_named_and_counted(tmp_path):
    root = class_folders(tmp_path / "fer", per_class=1)
    good = (root / "train" / "happy" / "0.png").read_bytes()
    jpeg = io.BytesIO()
    Image.fromarray(pixels_of(7)).save(jpeg, "JPEG")
    (root / "train" / "happy" / "garbage.jpg").write_bytes(b"this is not an image")
    (root / "train" / "sad" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "test" / "fear" / "truncated.jpg").write_bytes(jpeg.getvalue()[:200])
    (root / "test" / "fear" / "empty.png").write_bytes(b"")
    (root / "train" / "angry" / "notes.txt").write_text("not a face")
    bad = {"garbage.jpg", "truncated.png", "truncated.jpg", "empty.png", "notes.txt"}
    for attempt in ("cold", "from cache"):
        with pytest.warns(UserWarning) as record:
            d = load_fer2013(root, verbose=False)
        message = " ".join(str(w.message) for w in record)
        assert all(name in message for name in bad), (attempt, message)
        assert {Path(f).name for f, _ in d.skipped} == bad, attempt
        assert len(d["train"]) == 7 and len(d["test"]) == 7, attempt  # the good ones all load



def test_hostile_images_in_class_folders_are_skipped_with_their_reason(tmp_path, monkeypatch):
    """A declared-huge PNG, a truncated JPEG, an empty file, text and HEIC named .jpg, a whole photo:
    each skipped with its reason (the file named), none of them decoded, the faces all loaded."""
    root = class_folders(tmp_path / "fer", per_class=1)
    expected = {name: phrase for name, (_, phrase) in hostile_files(root / "train" / "happy").items()}
    face = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)).save(face, "JPEG")
    (root / "train" / "happy" / "truncated.jpg").write_bytes(face.getvalue()[: len(face.getvalue()) // 2])  # a face
    save_image(root / "test" / "sad" / "holiday.jpg", np.full((400, 600, 3), 90, np.uint8))
    expected["holiday.jpg"] = "not a 48x48 face crop (600x400 px"
    decoded, decode = [], data._decode_gray
    monkeypatch.setattr(data, "_decode_gray", lambda raw, name: decoded.append(Path(name).name) or decode(raw, name))
    for attempt in ("cold", "from cache"):
        with pytest.warns(UserWarning, match=r"Skipped 6 file\(s\)"):
            d = load_fer2013(root, verbose=False)
        reasons = {Path(f).name: why for f, why in d.skipped}
        assert reasons.keys() == expected.keys(), attempt
        for name, phrase in expected.items():
            assert phrase in reasons[name], (attempt, name, reasons[name])
        assert len(d["train"]) == 7 and len(d["test"]) == 7, attempt
    assert not {"huge.png", "empty.jpg", "text.jpg", "iphone.jpg", "holiday.jpg"} & set(decoded)  # header only


@pytest.mark.parametrize(
    "pixels, match",
    [
        (" ".join(["1"] * 2303), r"line 3 has 2303 pixels"),
        (" ".join(["1"] * 2305), r"line 3 has 2305 pixels"),
        (" ".join(["1"] * 2303 + ["x1"]), r"line 3: non-numeric pixel value 'x1'"),
        (" ".join(["1"] * 2303 + ["1.5"]), r"line 3: non-numeric pixel value '1.5'"),
        (" ".join(["1"] * 2303 + ["256"]), r"line 3: pixel values must be 0-255"),
        ("", r"line 3 has 0 pixels"),
    ],
)
def test_bad_csv_row_names_the_line(tmp_path, pixels, match):
    rows = [(0, pixels_of(1), "Training"), (2, pixels, "Training"), (3, pixels_of(1), "PublicTest")]
    with pytest.raises(ValueError, match=match):
        read_csv(write_csv(tmp_path / "bad.csv", rows))


@pytest.mark.parametrize(
    "row, match",
    [("9,{p},Training", r"line 2: emotion 9 is outside 0-6"), ("x,{p},Training", r"line 2: emotion 'x'"),
     ("1,{p},Validation", r"line 2: Usage 'Validation'"), ("1,{p}", r"line 2 has 2 fields")],
)
def test_bad_csv_fields_name_the_line(tmp_path, row, match):
    path = tmp_path / "bad.csv"
    path.write_text("emotion,pixels,Usage\n" + row.format(p=" ".join(["0"] * 2304)) + "\n")
    with pytest.raises(ValueError, match=match):
        read_csv(path)


def test_csv_without_header(tmp_path):
    path = tmp_path / "no_header.csv"
    path.write_text("0," + " ".join(["0"] * 2304) + ",Training\n")
    with pytest.raises(ValueError, match="line 1 should be the header"):
        read_csv(path)


@pytest.mark.parametrize("where", ["split", "flat"])
def test_unknown_emotion_folder_lists_expected_names(tmp_path, where):
    root = class_folders(tmp_path / "fer", per_class=1)
    if where == "flat":
        root = root / "train"
    save_image((root / "train" if where == "split" else root) / "contempt" / "a.png", pixels_of(5))
    with pytest.raises(ValueError) as err:
        load_fer2013(root)
    assert "contempt" in str(err.value)
    assert all(name in str(err.value) for name in CLASS_NAMES)


def test_empty_dataset_is_a_clear_error(tmp_path):
    root = tmp_path / "fer"
    for split in ("train", "test"):
        (root / split / "angry").mkdir(parents=True)
    with pytest.raises(ValueError, match="empty"):
        load_fer2013(root)
    (tmp_path / "bare").mkdir()
    with pytest.raises(ValueError, match="No image folders"):
        load_fer2013(tmp_path / "bare")
    with pytest.raises(ValueError, match="empty"):
        load_fer2013(write_csv(tmp_path / "header_only.csv", []))


def test_only_corrupt_images_is_an_error_too(tmp_path):
    (tmp_path / "fer" / "train" / "sad").mkdir(parents=True)
    (tmp_path / "fer" / "train" / "sad" / "x.jpg").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="x.jpg"), pytest.raises(ValueError, match="empty"):
        load_fer2013(tmp_path / "fer")


# --------------------------------------------------------------------------- cache


def test_cache_is_used_and_invalidated(tmp_path, monkeypatch, private_cache):
    root = class_folders(tmp_path / "fer", per_class=2)
    calls = []
    real_reader = data.read_folders

    def counting_reader(path, *a, **kw):
        calls.append(path)
        return real_reader(path, *a, **kw)

    counting_reader.__name__ = "read_folders"
    monkeypatch.setattr(data, "read_folders", counting_reader)

    first = load_fer2013(root, verbose=False)
    assert len(calls) == 1 and len(list(private_cache.glob("*.npz"))) == 1
    second = load_fer2013(root, verbose=False)
    assert len(calls) == 1, "second load should come from the cache"
    for name in first.splits:
        np.testing.assert_array_equal(first[name].images, second[name].images)
        np.testing.assert_array_equal(first[name].labels, second[name].labels)

    save_image(root / "train" / "sad" / "new.png", pixels_of(99))  # a file added
    third = load_fer2013(root, verbose=False)
    assert len(calls) == 2 and len(third["train"]) == len(first["train"]) + 1

    target = root / "train" / "angry" / "0.png"  # a file changed (same name, same size)
    save_image(target, pixels_of(33))
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    fourth = load_fer2013(root, verbose=False)
    assert len(calls) == 3
    assert 33 in np.unique(fourth["train"].images[fourth["train"].labels == 0])

    (root / "train" / "sad" / "new.png").unlink()  # a file removed
    assert len(load_fer2013(root, verbose=False)["train"]) == len(first["train"])
    assert len(calls) == 4
    assert len(list(private_cache.glob("*.npz"))) == 1, "old states of the dataset are cleaned up"

    other = class_folders(tmp_path / "other", per_class=1)  # another dataset keeps its own cache
    load_fer2013(other, verbose=False)
    load_fer2013(root, verbose=False)
    assert len(calls) == 5 and len(list(private_cache.glob("*.npz"))) == 2


def test_damaged_cache_is_rebuilt(tmp_path, private_cache):
    root = class_folders(tmp_path / "fer", per_class=1)
    load_fer2013(root, verbose=False)
    (cache,) = private_cache.glob("*.npz")
    cache.write_bytes(b"broken")
    assert len(load_fer2013(root, verbose=False)["train"]) == 7


def test_csv_cache(tmp_path):
    path = write_csv(tmp_path / "f.csv", [(4, pixels_of(4), "Training"), (5, pixels_of(5), "PublicTest")])
    a = load_fer2013(path, verbose=False)
    b = load_fer2013(path, verbose=False)
    assert a["train"].labels.tolist() == b["train"].labels.tolist() == [4]
    write_csv(path, [(6, pixels_of(6), "Training"), (5, pixels_of(5), "PublicTest"), (5, pixels_of(5), "PublicTest")])
    assert load_fer2013(path, verbose=False)["public_test"].labels.tolist() == [5, 5]


# --------------------------------------------------------------------------- the course protocol


def synthetic(n_train: int = 700, n_test: int = 140, seed: int = 0, csv: bool = False) -> FER2013Data:
    """Images carry a unique id in their first two pixels, so splits can be compared by id."""
    rng = np.random.default_rng(seed)
    props = np.array([4, 1, 4, 7, 5, 3, 5], float)

    def split(name, n, start):
        labels = rng.choice(7, size=n, p=props / props.sum())
        images = np.zeros((n, 48, 48, 1), np.uint8)
        ids = np.arange(start, start + n)
        images[:, 0, 0, 0], images[:, 0, 1, 0] = ids % 256, ids // 256
        return Split(name, images, labels.astype(np.int64))

    if csv:
        splits = {"train": split("train", n_train, 0), "public_test": split("public_test", n_test, 10_000),
                  "private_test": split("private_test", n_test, 20_000)}
    else:
        splits = {"train": split("train", n_train, 0), "test": split("test", n_test, 10_000)}
    return FER2013Data(splits, "csv" if csv else "folders", "synthetic")


def ids(split: Split) -> set[int]:
    return set((split.images[:, 0, 0, 0].astype(int) + 256 * split.images[:, 0, 1, 0].astype(int)).tolist())


def test_course_splits_stratified_seeded_disjoint():
    d = synthetic()
    s = course_splits(d, val_fraction=0.2, seed=7)
    assert ids(s["train"]).isdisjoint(ids(s["val"]))
    assert ids(s["train"]) | ids(s["val"]) == ids(d["train"])
    assert ids(s["test"]) == ids(d["test"])
    assert len(s["val"]) == 140
    expected = d["train"].counts() * 0.2
    assert np.all(np.abs(s["val"].counts() - expected) <= 1), (s["val"].counts(), expected)  # stratified
    again = course_splits(d, val_fraction=0.2, seed=7)
    assert ids(again["val"]) == ids(s["val"])  # seeded
    assert ids(course_splits(d, val_fraction=0.2, seed=8)["val"]) != ids(s["val"])
    assert [s[n].name for n in ("train", "val", "test")] == ["train", "val", "test"]


def test_course_splits_csv_protocol():
    d = synthetic(csv=True)
    s = course_splits(d)
    assert ids(s["train"]) == ids(d["train"])  # nothing carved off: PublicTest is the validation set
    assert ids(s["val"]) == ids(d["public_test"])
    assert ids(s["test"]) == ids(d["private_test"])


def test_course_splits_uses_a_val_folder(tmp_path):
    root = class_folders(tmp_path / "fer", per_class=1, splits=("train", "test"))
    class_folders(root, value_of=lambda c: 25 + 30 * c, per_class=1, splits=("val",))  # no pixel twin of train
    d = read_folders(root)
    assert list(d.splits) == ["train", "val", "test"]
    s = course_splits(d)
    assert len(s["train"]) == len(s["val"]) == len(s["test"]) == 7


def test_course_splits_needs_a_test_split():
    d = FER2013Data({"train": synthetic()["train"]}, "csv", "x")
    with pytest.raises(ValueError, match="test split"):
        course_splits(d)


def test_balanced_subset_and_quick_mode(no_real_data):
    full = course_splits(load_fer2013(verbose=False))
    s = data.load_course_data(quick=True, verbose=False)
    for name, split in s.items():
        available = full[name].counts()
        assert split.counts().tolist() == np.minimum(available, data.QUICK_PER_CLASS[name]).tolist()
    again = data.load_course_data(quick=True, verbose=False)
    np.testing.assert_array_equal(s["train"].images, again["train"].images)


# --------------------------------------------------------------------------- offline data


def test_offline_data_is_deterministic_and_labelled_as_offline(no_real_data):
    from helpers.offline import make_faces

    a, b, c = make_faces(30, seed=3), make_faces(30, seed=3), make_faces(30, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    d = load_fer2013(verbose=False)
    assert d.source == "offline" and d.is_offline and "OFFLINE" in d.location
    assert d["train"].images.dtype == np.uint8 and d["train"].images.shape[1:] == (48, 48, 1)


def test_offline_data_has_fer_proportions(no_real_data):
    from helpers.offline import FER_PROPORTIONS

    d = load_fer2013(verbose=False)
    for split in d.splits.values():
        props = split.counts() / len(split)
        np.testing.assert_allclose(props, FER_PROPORTIONS, atol=0.01)
        assert split.counts().argmin() == CLASS_NAMES.index("disgust")


def test_offline_data_is_learnable(no_real_data):
    """HOG features + a linear classifier beat the majority class and chance by far."""
    from skimage.feature import hog
    from sklearn.linear_model import RidgeClassifier
    from sklearn.metrics import balanced_accuracy_score

    from helpers.offline import make_faces

    (x, y), (xt, yt) = make_faces(1200, seed=11), make_faces(400, seed=12)

    def features(images):
        return np.array([hog(im[..., 0], pixels_per_cell=(6, 6), cells_per_block=(2, 2)) for im in images])

    predicted = RidgeClassifier(alpha=10).fit(features(x), y).predict(features(xt))
    majority = np.bincount(yt).max() / len(yt)
    accuracy = float((predicted == yt).mean())
    assert accuracy > majority + 0.15, (accuracy, majority)
    assert balanced_accuracy_score(yt, predicted) > 2.5 / 7  # chance is 1/7


def test_offline_data_is_cached_on_disk(private_cache):
    first = load_fer2013("offline", verbose=False)
    (file,) = private_cache.glob("_draw_offline-*.npz")
    second = load_fer2013("offline", verbose=False)
    assert second.location == first.location and "OFFLINE" in second.location and second.is_offline
    for name in first.splits:
        np.testing.assert_array_equal(first[name].images, second[name].images)
        np.testing.assert_array_equal(first[name].labels, second[name].labels)


def test_mixed_emotion_and_split_folders(tmp_path):
    root = class_folders(tmp_path / "fer", per_class=1)
    save_image(root / "happy" / "a.png", pixels_of(1))
    with pytest.raises(ValueError, match="mixes emotion folders"):
        load_fer2013(root)
