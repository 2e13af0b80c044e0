"""``.keras`` files across Keras versions: who wrote a file, a config older Keras reads, clear load errors.

A ``.keras`` file is a zip of ``metadata.json`` (the Keras version that saved it), ``config.json``
(the architecture) and ``model.weights.h5``. Newer Keras versions write extra keys into the
config (Keras 3.15: ``input_axes``/``output_axes`` in every initializer, ``quantization_config``
in ``Dense``, ``renorm*`` in ``BatchNormalization``...), and older versions refuse the whole file
("unexpected keyword argument 'input_axes'"). When such a key holds its default value it changes
nothing, so :func:`make_portable` removes it: the file then loads on every Keras the course
supports (``keras>=3.8``, :data:`OLDEST_KERAS`), with the same weights and the same predictions.

Only the standard library is used here (no Keras import), so this also runs where Keras is broken.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

#: The oldest Keras the course supports (pyproject.toml: ``keras>=3.8``); CI loads the shipped
#: model with it (tests/test_old_keras.py).
OLDEST_KERAS = "3.8.0"

_INITIALIZERS = ("GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
                 "VarianceScaling", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
                 "lecun_normal", "lecun_uniform", "variance_scaling")

#: Config keys that Keras 3.9-3.15 added to these classes, with the value that keeps the old
#: behaviour (their default). Found by comparing the constructor signatures of every class in
#: ``keras.layers``, ``keras.initializers``, ``keras.losses``, ``keras.metrics`` and
#: ``keras.optimizers`` between Keras 3.8.0 and 3.15.1. A key is removed only when it holds
#: exactly this value, so removing it never changes the model.
NEWER_CONFIG_KEYS: dict[str, dict[str, Any]] = {
    **{name: {"input_axes": None, "output_axes": None} for name in _INITIALIZERS},
    "Dense": {"quantization_config": None, "lora_alpha": None},
    "Embedding": {"quantization_config": None, "lora_alpha": None},
    "EinsumDense": {"quantization_config": None, "lora_alpha": None, "gptq_unpacked_column_size": None},
    "BatchNormalization": {"renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99},
    "Resizing": {"antialias": False},
    "MultiHeadAttention": {"sliding_window": None, "use_gate": False},
    "GroupQueryAttention": {"sliding_window": None, "use_gate": False},
    "IntegerLookup": {"salt": None, "oov_method": "floormod"},
    "StringLookup": {"salt": None},
    "SparseCategoricalCrossentropy": {"axis": -1, "ignore_class": None},
    **{f"Conv{d}DTranspose": {"output_padding": None} for d in (1, 2, 3)},
}


def version_tuple(version: str) -> tuple[int, ...]:
    """``"3.15.1"`` -> ``(3, 15, 1)`` (pre-release tails such as ``.dev0`` are ignored)."""
    return tuple(int(n) for n in re.findall(r"\d+", str(version))[:3])


def saved_by(path: str | os.PathLike) -> str | None:
    """The Keras version recorded in a ``.keras`` file's ``metadata.json``; ``None`` if unreadable."""
    try:
        with zipfile.ZipFile(path) as z:
            return str(json.loads(z.read("metadata.json"))["keras_version"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def portable_config(config: Any) -> tuple[Any, int]:
    """A copy of a Keras config without the :data:`NEWER_CONFIG_KEYS` that hold their default.

    Args:
        config: the parsed ``config.json`` of a ``.keras`` file (nested dicts and lists).

    Returns:
        ``(cleaned copy, number of keys removed)``.
    """
    removed = 0

    def clean(node: Any) -> Any:
        nonlocal removed
        if isinstance(node, list):
            return [clean(v) for v in node]
        if not isinstance(node, dict):
            return node
        node = {k: clean(v) for k, v in node.items()}
        newer = NEWER_CONFIG_KEYS.get(node.get("class_name")) if isinstance(node.get("class_name"), str) else None
        inner = node.get("config")
        if newer and isinstance(inner, dict):
            for key, default in newer.items():
                if key in inner and inner[key] == default and type(inner[key]) is type(default):
                    del inner[key]
                    removed += 1
        return node

    return clean(config), removed


def make_portable(path: str | os.PathLike) -> int:
    """Rewrite a ``.keras`` file's ``config.json`` with :func:`portable_config`, in place.

    The weights and metadata are copied byte for byte; the file is replaced atomically (a
    temporary file, then a rename) and only when something was removed.

    Returns:
        The number of config keys removed (0: the file was already portable and is untouched).

    Raises:
        ValueError: ``path`` is not a ``.keras`` zip with a ``config.json``.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a .keras file with a config.json ({exc})") from None
    cleaned, removed = portable_config(config)
    if not removed:
        return 0
    tmp = path.with_name(f".{path.name}.{os.getpid()}.portable")
    try:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
            for info in src.infolist():
                data = json.dumps(cleaned).encode() if info.filename == "config.json" else src.read(info)
                dst.writestr(info, data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return removed


def load_error_advice(path: str | os.PathLike, running: str | None = None) -> str:
    """What to tell someone whose Keras could not load ``path``: both versions and the fix.

    Args:
        path: the ``.keras`` file that failed to load.
        running: the Keras version running here (default: ``keras.__version__``).
    """
    if running is None:
        try:
            import keras

            running = keras.__version__
        except ImportError:  # pragma: no cover - Keras itself missing
            running = "(Keras not importable)"
    writer = saved_by(path)
    if writer is None:
        return (f"Keras {running} is running here; {Path(path).name} records no Keras version (no readable "
                "metadata.json): it is not a complete .keras file.")
    text = f"{Path(path).name} was saved by Keras {writer}; Keras {running} is running here."
    if version_tuple(writer) > version_tuple(running):
        text += (
            f" Newer Keras versions write config keys that older ones reject. Fix: upgrade Keras here "
            f"(pip install -U \"keras>={writer}\"; in Colab: %pip install -U \"keras>={writer}\", then "
            f"Runtime > Restart session), or, where it was saved, run "
            f"helpers.keras_files.make_portable({str(path)!r}) (same weights, readable by Keras {OLDEST_KERAS} "
            "and later) and copy the file again."
        )
    else:
        text += " The versions are compatible, so the file itself is damaged or is not a course model."
    return text
