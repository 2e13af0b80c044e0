"""Exercise answers as safe data, so that a verdict can be computed outside the process that made them.

:mod:`helpers.grade` calls a student's exercise function in a worker process it does not trust
(:mod:`helpers.grade_worker`); the answers cross back as data only, never as pickles:
:func:`encode` writes a JSON tree (plain values, tagged containers) plus one ``.npz`` of numeric
arrays (read with ``allow_pickle=False``) and, for Keras models, ``.keras`` files (loaded with
``safe_mode=True``: no Lambda code is run). :func:`decode` rebuilds the value on the trusted side,
after checking every file's size. Driven by the answer's type, not by the exercise:

* ``None``, bool, int, float (NaN and infinities too), str: as JSON values.
* list, tuple, dict (any hashable keys), set: tagged containers, so that a tuple stays a tuple and
  ``{("train", "val"): 3}`` keeps its key.
* NumPy arrays and scalars of numeric, bool or string dtype: in the ``.npz``; object arrays as lists.
* pandas DataFrame and Series: columns as arrays, with index and names.
* course dataclasses (``helpers.*``, e.g. :class:`helpers.splits.Split`): their fields.
* Keras models (Sequential, Functional): a ``.keras`` file (architecture, weights, compile state).
  Other Keras objects (a layer, an optimizer, a loss): their Keras config
  (``keras.saving.serialize_keras_object``), deserialised in safe mode. ``keras.callbacks.History``:
  its ``history``, ``params`` and ``epoch``.
* matplotlib Figures: per panel its lines (x, y, label, style), bars, images, scatter offsets,
  title, axis labels, limits, scales, tick labels, texts and legend entries, plus the figure's own
  legends and title; :func:`decode` draws them again into a new Figure, which the exercise's
  ``verify`` reads as it reads the student's.

Anything else (a function, a generator, an open file) raises :class:`Unencodable`; the grader
reports that answer as one it cannot read back. This module imports no other course module at
import time (the worker has no :mod:`helpers.checks`).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

#: Largest answer the trusted side decodes, all files of one answer together (bytes).
MAX_ANSWER_BYTES = 256 * 2**20
_MAX_NODES = 2_000_000  # JSON values in one answer: a bound on what decoding can cost


class Unencodable(TypeError):
    """An answer of a type that cannot cross as data (a function, a generator, ...)."""


class Undecodable(ValueError):
    """Answer files that are malformed, too large, or of a kind this module does not rebuild."""


class _Writer:
    def __init__(self, folder: Path, stem: str):
        self.folder, self.stem, self.arrays, self.files = folder, stem, {}, []

    def array(self, value: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = value
        return key

    def file(self, suffix: str) -> Path:
        path = self.folder / f"{self.stem}_{len(self.files)}{suffix}"
        self.files.append(path.name)
        return path


def encode(value: Any, folder: str | Path, stem: str) -> dict:
    """Write ``value`` as ``folder/stem.json`` (+ ``stem.npz`` and ``stem_N.keras``); return the manifest.

    Raises:
        Unencodable: ``value`` holds something that is not data (see the module docstring).
    """
    folder = Path(folder)
    writer = _Writer(folder, stem)
    tree = _encode(value, writer, 0)
    if writer.arrays:
        np.savez(folder / f"{stem}.npz", **writer.arrays)
    manifest = {"tree": tree, "npz": bool(writer.arrays), "files": writer.files}
    (folder / f"{stem}.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def _plain_array(value: np.ndarray) -> bool:
    return value.dtype.kind in "biufcUSMm" and value.dtype.fields is None


def _encode(value: Any, w: _Writer, depth: int) -> Any:
    if depth > 100:
        raise Unencodable("an answer nested more than 100 levels deep")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else {"t": "bigint", "v": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
    if isinstance(value, (list, tuple, set, frozenset)):
        kind = {list: "list", tuple: "tuple"}.get(type(value), "set" if isinstance(value, (set, frozenset)) else "list")
        if isinstance(value, tuple) and type(value) is not tuple and hasattr(value, "_fields"):
            kind = "tuple"  # a namedtuple compares as the tuple it is
        return {"t": kind, "v": [_encode(v, w, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[_encode(k, w, depth + 1), _encode(v, w, depth + 1)] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        if _plain_array(value):
            return {"t": "ndarray", "k": w.array(value)}
        return {"t": "objarray", "shape": list(value.shape), "v": [_encode(v, w, depth + 1) for v in value.ravel().tolist()]}
    if isinstance(value, np.generic):
        return {"t": "npscalar", "k": w.array(np.asarray(value))} if _plain_array(np.asarray(value)) else _encode(value.item(), w, depth)
    module = type(value).__module__ or ""
    if module.startswith("pandas"):
        return _encode_pandas(value, w, depth)
    if module.startswith("keras"):
        return _encode_keras(value, w)
    if module.startswith("matplotlib") and type(value).__name__ in ("Figure", "SubFigure"):
        return _encode_figure(value, w)
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and module.startswith("helpers.") \
            and not module.startswith("helpers.checks"):
        fields = {f.name: _encode(getattr(value, f.name), w, depth + 1) for f in dataclasses.fields(value)}
        return {"t": "dataclass", "module": module, "name": type(value).__qualname__, "v": fields}
    raise Unencodable(f"a {type(value).__module__}.{type(value).__qualname__}, which is not data the grader can read back")


def _encode_pandas(value: Any, w: _Writer, depth: int) -> dict:
    import pandas as pd

    index = {"v": _encode(np.asarray(value.index.tolist(), dtype=object) if isinstance(value.index, pd.MultiIndex)
                          else value.index.to_numpy(), w, depth + 1), "names": [_encode(n, w, depth + 1) for n in value.index.names]}
    if isinstance(value, pd.Series):
        return {"t": "Series", "index": index, "name": _encode(value.name, w, depth + 1), "v": _encode(value.to_numpy(), w, depth + 1)}
    if isinstance(value, pd.DataFrame):
        columns = [_encode(c, w, depth + 1) for c in value.columns]
        return {"t": "DataFrame", "index": index, "columns": columns, "columns_name": _encode(value.columns.name, w, depth + 1),
                "v": [_encode(value.iloc[:, i].to_numpy(), w, depth + 1) for i in range(value.shape[1])]}
    raise Unencodable(f"a pandas {type(value).__name__}, which the grader cannot read back (return a DataFrame or Series)")


def _encode_keras(value: Any, w: _Writer) -> dict:
    import keras

    if isinstance(value, keras.Model):
        path = w.file(".keras")
        value.save(path)
        return {"t": "keras.Model", "file": path.name}
    if isinstance(value, keras.callbacks.History):
        return {"t": "keras.History", "history": _encode(dict(value.history), w, 1),
                "params": _encode(dict(getattr(value, "params", {}) or {}), w, 1), "epoch": _encode(list(getattr(value, "epoch", [])), w, 1)}
    try:
        config = keras.saving.serialize_keras_object(value)
        text = json.dumps(config)
    except Exception as exc:
        raise Unencodable(f"a {type(value).__name__} whose Keras config cannot be written ({type(exc).__name__}: {exc})") from exc
    return {"t": "keras.object", "config": json.loads(text)}


def _encode_figure(fig: Any, w: _Writer) -> dict:
    from matplotlib.collections import PathCollection
    from matplotlib.patches import Rectangle

    panels = []
    for ax in fig.axes:
        legend = ax.get_legend()
        panels.append({
            "position": [float(v) for v in ax.get_position().bounds],
            "title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
            "xlim": [float(v) for v in ax.get_xlim()], "ylim": [float(v) for v in ax.get_ylim()],
            "xscale": ax.get_xscale(), "yscale": ax.get_yscale(),
            "xticklabels": [t.get_text() for t in ax.get_xticklabels()], "yticklabels": [t.get_text() for t in ax.get_yticklabels()],
            "lines": [{"x": _encode(np.asarray(l.get_xdata()), w, 1), "y": _encode(np.asarray(l.get_ydata()), w, 1),
                       "label": str(l.get_label()), "color": _color(l.get_color()), "linestyle": str(l.get_linestyle()),
                       "marker": str(l.get_marker())} for l in ax.get_lines()],
            "bars": [[float(p.get_x()), float(p.get_y()), float(p.get_width()), float(p.get_height()), str(p.get_label())]
                     for p in ax.patches if isinstance(p, Rectangle)],
            "images": [w.array(np.asarray(im.get_array())) for im in ax.get_images()],
            "scatter": [{"offsets": w.array(np.asarray(c.get_offsets(), dtype=float)), "label": str(c.get_label())}
                        for c in ax.collections if isinstance(c, PathCollection)],
            "texts": [[float(t.get_position()[0]), float(t.get_position()[1]), t.get_text()] for t in ax.texts],
            "legend": None if legend is None else [t.get_text() for t in legend.get_texts()],
        })
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else None
    return {"t": "Figure", "size": [float(v) for v in fig.get_size_inches()], "axes": panels, "suptitle": suptitle,
            "legends": [[t.get_text() for t in legend.get_texts()] for legend in fig.legends]}


def _color(value: Any) -> str:
    from matplotlib.colors import to_hex

    try:
        return to_hex(value, keep_alpha=True)
    except (ValueError, TypeError):
        return "#000000ff"


def answer_bytes(folder: str | Path, stem: str) -> int:
    """Bytes on disk of the answer ``stem`` in ``folder`` (its JSON, arrays and Keras files)."""
    folder = Path(folder)
    return sum(p.stat().st_size for p in folder.glob(f"{stem}*") if p.is_file() and not p.is_symlink())


def decode(folder: str | Path, stem: str, max_bytes: int = MAX_ANSWER_BYTES) -> Any:
    """Rebuild the answer that :func:`encode` wrote as ``folder/stem.*``.

    Raises:
        Undecodable: a file is missing, not a regular file, malformed, or the answer is larger than
            ``max_bytes`` (checked before anything is read).
    """
    folder = Path(folder)
    manifest_path = folder / f"{stem}.json"
    if not manifest_path.is_file() or manifest_path.is_symlink():
        raise Undecodable(f"no answer file {manifest_path.name}")
    size = answer_bytes(folder, stem)
    if size > max_bytes:
        raise Undecodable(f"the answer takes {size / 2**20:.0f} MiB, more than the grader reads ({max_bytes / 2**20:.0f} MiB)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files, has_npz = list(manifest["files"]), bool(manifest["npz"])
        reader = _Reader(folder, stem, files, has_npz, max_bytes)
        try:
            return reader.value(manifest["tree"], 0)
        finally:
            reader.close()
    except Undecodable:
        raise
    except (RecursionError, MemoryError) as exc:
        raise Undecodable(f"the answer is too deeply nested or too large ({type(exc).__name__})") from exc
    except Exception as exc:  # a forged or truncated file: never a crash of the grader
        raise Undecodable(f"the answer could not be read back ({type(exc).__name__}: {exc})") from exc


class _Reader:
    def __init__(self, folder: Path, stem: str, files: list, has_npz: bool, max_bytes: int):
        self.folder, self.files, self.nodes, self.npz = folder, {str(f) for f in files}, 0, None
        if has_npz:
            path = folder / f"{stem}.npz"
            with zipfile.ZipFile(path) as archive:  # sizes as stored AND as unpacked, before numpy reads a byte
                if sum(i.file_size for i in archive.infolist()) > max_bytes:
                    raise Undecodable("the answer's arrays unpack to more than the grader reads")
            self.npz = np.load(path, allow_pickle=False)

    def close(self) -> None:
        if self.npz is not None:
            self.npz.close()

    def array(self, key: str) -> np.ndarray:
        if self.npz is None or key not in self.npz.files:
            raise Undecodable(f"array {key!r} is missing")
        return self.npz[key]

    def value(self, node: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > _MAX_NODES or depth > 120:
            raise Undecodable("the answer has more values than the grader reads")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise Undecodable(f"unexpected {type(node).__name__} in the answer")
        kind = node["t"]
        rebuild = _REBUILD.get(kind)
        if rebuild is None:
            raise Undecodable(f"an answer part of unknown kind {kind!r}")
        return rebuild(self, node, depth + 1)

    def keras_file(self, name: str) -> Path:
        path = self.folder / str(name)
        if name not in self.files or path.parent != self.folder or not path.is_file() or path.is_symlink():
            raise Undecodable(f"model file {name!r} is missing")
        return path


def _index(r: _Reader, node: dict, depth: int):
    import pandas as pd

    values = r.value(node["v"], depth)
    names = [r.value(n, depth) for n in node["names"]]
    if len(names) > 1:
        return pd.MultiIndex.from_tuples([tuple(v) for v in values], names=names)
    return pd.Index(values, name=names[0] if names else None)


def _dataframe(r: _Reader, node: dict, depth: int):
    import pandas as pd

    columns = [r.value(c, depth) for c in node["columns"]]
    data = [r.value(v, depth) for v in node["v"]]
    if len(columns) != len(data):
        raise Undecodable("a table whose columns and values differ in number")
    frame = pd.DataFrame(dict(enumerate(data)), index=_index(r, node["index"], depth)) if data else pd.DataFrame(index=_index(r, node["index"], depth))
    frame.columns = pd.Index(columns, name=r.value(node.get("columns_name"), depth))
    return frame


def _series(r: _Reader, node: dict, depth: int):
    import pandas as pd

    return pd.Series(r.value(node["v"], depth), index=_index(r, node["index"], depth), name=r.value(node["name"], depth))


def _objarray(r: _Reader, node: dict, depth: int) -> np.ndarray:
    items = [r.value(v, depth) for v in node["v"]]
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out.reshape([int(s) for s in node["shape"]])


def _dataclass(r: _Reader, node: dict, depth: int) -> Any:
    module, name = str(node["module"]), str(node["name"])
    if not module.startswith("helpers.") or module.startswith("helpers.checks") or "." in name:
        raise Undecodable(f"a {module}.{name}, which the grader does not rebuild")
    cls = getattr(importlib.import_module(module), name, None)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise Undecodable(f"{module}.{name} is not a course dataclass")
    fields = {str(k): r.value(v, depth) for k, v in dict(node["v"]).items()}
    return cls(**fields)


def _keras_model(r: _Reader, node: dict, depth: int) -> Any:
    import keras

    return keras.saving.load_model(r.keras_file(node["file"]), safe_mode=True, compile=True)


def _keras_object(r: _Reader, node: dict, depth: int) -> Any:
    import keras

    return keras.saving.deserialize_keras_object(node["config"], safe_mode=True)


def _keras_history(r: _Reader, node: dict, depth: int) -> Any:
    import keras

    history = keras.callbacks.History()
    history.history = r.value(node["history"], depth)
    history.params = r.value(node["params"], depth)
    history.epoch = r.value(node["epoch"], depth)
    return history


def _figure(r: _Reader, node: dict, depth: int) -> Any:
    """A new Figure holding what the answer's figure showed (drawn again, panel by panel)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=tuple(float(v) for v in node["size"]))
    for panel in node["axes"]:
        ax = fig.add_axes([float(v) for v in panel["position"]])
        for line in panel["lines"]:
            ax.plot(r.value(line["x"], depth), r.value(line["y"], depth), label=str(line["label"]), color=str(line["color"]),
                    linestyle=str(line["linestyle"]), marker=str(line["marker"]))
        for x, y, width, height, label in panel["bars"]:
            ax.add_patch(Rectangle((float(x), float(y)), float(width), float(height), label=str(label)))
        for key in panel["images"]:
            ax.imshow(r.array(str(key)))
        for scatter in panel["scatter"]:
            offsets = r.array(str(scatter["offsets"])).reshape(-1, 2)
            ax.scatter(offsets[:, 0], offsets[:, 1], label=str(scatter["label"]))
        for x, y, text in panel["texts"]:
            ax.text(float(x), float(y), str(text))
        ax.set(title=str(panel["title"]), xlabel=str(panel["xlabel"]), ylabel=str(panel["ylabel"]))
        ax.set_xscale(str(panel["xscale"]))
        ax.set_yscale(str(panel["yscale"]))
        ax.set_xlim(*panel["xlim"])
        ax.set_ylim(*panel["ylim"])
        if panel["legend"] is not None:
            ax.legend()
    if node.get("suptitle") is not None:
        fig.suptitle(str(node["suptitle"]))
    for texts in node.get("legends", []):
        fig.legend([str(t) for t in texts])
    return fig


_REBUILD = {
    "list": lambda r, n, d: [r.value(v, d) for v in n["v"]],
    "tuple": lambda r, n, d: tuple(r.value(v, d) for v in n["v"]),
    "set": lambda r, n, d: {r.value(v, d) for v in n["v"]},
    "dict": lambda r, n, d: {_hashable(r.value(k, d)): r.value(v, d) for k, v in n["v"]},
    "bigint": lambda r, n, d: int(str(n["v"])[:5000]),
    "float": lambda r, n, d: float(str(n["v"])),
    "ndarray": lambda r, n, d: r.array(str(n["k"])),
    "npscalar": lambda r, n, d: r.array(str(n["k"]))[()],
    "objarray": _objarray,
    "DataFrame": _dataframe,
    "Series": _series,
    "dataclass": _dataclass,
    "keras.Model": _keras_model,
    "keras.object": _keras_object,
    "keras.History": _keras_history,
    "Figure": _figure,
}


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    hash(key)
    return key
