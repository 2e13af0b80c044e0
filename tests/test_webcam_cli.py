"""The command line `python -m helpers.webcam`: files and folders in, annotated output out, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import frame_sources, inference, pretrained, webcam
from test_image_files import hostile_files

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((48, 48, 1)), layers.Rescaling(1 / 255), layers.Conv2D(4, 3, activation="relu"),
         layers.GlobalAveragePooling2D(), layers.Dense(7, activation="softmax")],
        name="tiny",
    )
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for name, photo in inference.sample_photos().items():
        cv2.imwrite(str(folder / f"{name}.jpg"), photo)
    cv2.imwrite(str(folder / "blank.png"), np.full((120, 90), 128, np.uint8))
    return folder


def test_runs_as_a_module_without_importing_tensorflow_for_help():
    run = subprocess.run([sys.executable, "-m", "helpers.webcam", "--help"], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert run.returncode == 0 and "--source" in run.stdout and "--no-window" in run.stdout


def test_image_file_writes_an_annotated_image(tmp_path, photo_dir, model_file, capsys):
    out = tmp_path / "annotated.png"
    source = photo_dir / "grace_hopper.jpg"
    assert webcam.main(["--source", str(source), "--model", str(model_file), "--output", str(out), "--no-window"]) == 0
    printed = capsys.readouterr().out
    assert "grace_hopper:" in printed and "at (" in printed  # one face reported with its box
    annotated, original = cv2.imread(str(out)), cv2.imread(str(source))
    assert annotated.shape == original.shape and np.abs(annotated.astype(int) - original).sum() > 0


def test_folder_writes_one_annotated_image_per_file(tmp_path, photo_dir, model_file, capsys):
    out = tmp_path / "out"
    assert webcam.main(["--source", str(photo_dir), "--model", str(model_file), "--output", str(out), "--no-window"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.jpg", "blank.jpg", "grace_hopper.jpg"]
    printed = capsys.readouterr().out
    assert "blank: no face" in printed and "astronaut:" in printed and "mean ms per stage" in printed


def test_without_a_window_output_goes_to_a_default_place(tmp_path, photo_dir, model_file, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert webcam.main(["--source", str(photo_dir / "astronaut.jpg"), "--model", str(model_file), "--no-window"]) == 0
    assert (tmp_path / "webcam_output" / "astronaut.jpg").is_file()
    assert "writing the annotated frames to webcam_output/" in capsys.readouterr().out


def test_video_in_video_out(tmp_path, model_file):
    clip = tmp_path / "clip.avi"
    frames = inference.jittered_frames(inference.sample_photos()["astronaut"], 6, size=(320, 240))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for f in frames:
        writer.write(f)
    writer.release()
    out = tmp_path / "annotated.avi"
    assert webcam.main(["--source", str(clip), "--model", str(model_file), "--output", str(out), "--no-window"]) == 0
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    cap.release()


def test_unreadable_image_is_reported_and_the_rest_processed(tmp_path, photo_dir, model_file, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a_broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    cv2.imwrite(str(folder / "b_face.jpg"), cv2.imread(str(photo_dir / "astronaut.jpg")))
    code = webcam.main(["--source", str(folder), "--model", str(model_file), "--output", str(tmp_path / "o"), "--no-window"])
    captured = capsys.readouterr()
    assert code == 1 and "a_broken.jpg" in captured.err and "corrupt" in captured.err
    assert (tmp_path / "o" / "b_face.jpg").is_file()


def test_errors_are_clear_and_exit_2(tmp_path, model_file, capsys, monkeypatch):
    assert webcam.main(["--source", str(tmp_path / "missing.jpg"), "--model", str(model_file)]) == 2
    assert "Source not found" in capsys.readouterr().err
    img = tmp_path / "x.png"
    cv2.imwrite(str(img), np.zeros((50, 50, 3), np.uint8))
    assert webcam.main(["--source", str(img), "--model", str(tmp_path / "nope.keras"), "--no-window"]) == 2
    assert "No model file at" in capsys.readouterr().err
    (tmp_path / "bad.keras").write_bytes(b"garbage")
    assert webcam.main(["--source", str(img), "--model", str(tmp_path / "bad.keras"), "--no-window"]) == 2
    assert "not a Keras model archive" in capsys.readouterr().err
    monkeypatch.setattr(pretrained, "pretrained_available", lambda: False)
    assert webcam.main(["--source", str(img), "--no-window"]) == 2
    assert "How to get a model" in capsys.readouterr().err


def test_no_camera_says_why_and_what_to_use_instead(model_file, capsys, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(frame_sources.sys, "platform", "linux")
    monkeypatch.setattr(frame_sources.Path, "exists", lambda self: False if str(self).startswith("/dev/video") else os.path.exists(self))
    assert webcam.main(["--source", "0", "--model", str(model_file), "--no-window"]) == 2
    err = capsys.readouterr().err
    assert "/dev/video0 does not exist" in err and "--source FILE or FOLDER" in err


def test_video_skips_the_models_flip_tta_unless_asked_photos_keep_it(tmp_path, model_file, photo_dir, capsys):
    from helpers import models, training

    wrapped = tmp_path / "wrapped.keras"
    models.with_flip_tta(training.load_model(model_file)).save(wrapped)
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for f in inference.jittered_frames(inference.sample_photos()["astronaut"], 3, size=(320, 240)):
        writer.write(f)
    writer.release()
    common = ["--model", str(wrapped), "--no-window", "--output"]
    assert webcam.main(["--source", str(clip), *common, str(tmp_path / "a.avi")]) == 0
    assert "live video skips the flip TTA; --flip-tta keeps it" in capsys.readouterr().out
    assert webcam.main(["--source", str(clip), "--flip-tta", *common, str(tmp_path / "b.avi")]) == 0
    assert "skips the flip TTA" not in capsys.readouterr().out
    assert webcam.main(["--source", str(photo_dir / "astronaut.jpg"), *common, str(tmp_path / "c.png")]) == 0
    assert "skips the flip TTA" not in capsys.readouterr().out, "photos are classified with the whole model"


def test_a_broken_or_huge_photo_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    expected = hostile_files(tmp_path)
    monkeypatch.setattr(inference, "default_model", lambda *_: pytest.fail("the model was loaded for a refused photo"))
    for name in ("huge.png", "empty.jpg", "text.jpg", "iphone.jpg"):  # refused from the header, before the model
        assert webcam.main(["--source", str(tmp_path / name), "--no-window", "--output", str(tmp_path / "o.png")]) == 1
        err = capsys.readouterr().err.strip()
        assert err == f"error: Cannot read {tmp_path / name}: " + err.split(": ", 2)[2] and "\n" not in err, err
        assert expected[name][1] in err, err


def test_a_folder_with_hostile_files_processes_the_others(tmp_path, photo_dir, model_file, capsys):
    expected = hostile_files(tmp_path / "mixed")
    cv2.imwrite(str(tmp_path / "mixed" / "zz_face.jpg"), cv2.imread(str(photo_dir / "grace_hopper.jpg")))
    code = webcam.main(["--source", str(tmp_path / "mixed"), "--model", str(model_file), "--output", str(tmp_path / "o"),
                        "--no-window"])
    captured = capsys.readouterr()
    assert code == 1 and sorted(p.name for p in (tmp_path / "o").iterdir()) == ["zz_face.jpg"]
    assert "error: 5 of 6 image file(s) could not be read (the others were processed):" in captured.err
    summary = captured.err.split("could not be read")[1]
    for name, (_, phrase) in expected.items():
        assert f"{tmp_path / 'mixed' / name}: " in summary and phrase in summary, name
    assert "no frame could be read" not in captured.err


def test_a_truncated_photo_names_the_file_and_the_reason(tmp_path, model_file, capsys):
    hostile_files(tmp_path)
    assert webcam.main(["--source", str(tmp_path / "truncated.jpg"), "--model", str(model_file), "--no-window",
                        "--output", str(tmp_path / "o.png")]) == 1
    err = capsys.readouterr().err
    assert f"error: Cannot read {tmp_path / 'truncated.jpg'}: the file is truncated" in err
    assert "no frame could be read" not in err and err.count("truncated.jpg") == 1
