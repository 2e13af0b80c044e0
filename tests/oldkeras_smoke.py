"""Run by tests/test_old_keras.py with the python of a second, minimal environment holding the oldest
stack the course supports (TensorFlow 2.18 + Keras 3.8, nothing else): load .keras files with the
course's loaders and write their probabilities for a batch of faces.

    OLD_PYTHON tests/oldkeras_smoke.py FACES.npy OUT.npz [MODEL.keras ...]

``FACES.npy``: uint8 (n, 48, 48, 1). Writes ``OUT.npz`` with ``reference`` (the shipped model,
through ``helpers.pretrained.load_pretrained``) and ``model_<i>`` for each extra model file
(through ``helpers.training.load_model``), float32 (n, 7) each, plus ``keras`` and ``tensorflow``
(the versions that ran). Only NumPy, TensorFlow and Keras are needed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's helpers

import numpy as np  # noqa: E402


def main(argv: list[str]) -> int:
    faces_file, out_file, *models = argv
    import keras
    import tensorflow as tf

    from helpers.pretrained import load_pretrained
    from helpers.training import load_model

    faces = np.load(faces_file).astype(np.float32)
    results = {"keras": np.array(keras.__version__), "tensorflow": np.array(tf.__version__)}
    results["reference"] = np.asarray(load_pretrained()(faces, training=False), np.float32)
    for i, path in enumerate(models):
        results[f"model_{i}"] = np.asarray(load_model(path)(faces, training=False), np.float32)
    np.savez(out_file, **results)
    print(f"Keras {keras.__version__}, TensorFlow {tf.__version__}: loaded and ran {1 + len(models)} model(s) "
          f"on {len(faces)} faces")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
