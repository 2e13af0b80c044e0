"""What makes the reference recipe fast on one accelerator: the pieces ``python -m tools.reference gpu`` uses.

* :func:`choose_precision` / :func:`precision_for`: the dtype policy from what the device supports
  (detected, never assumed): bfloat16 on GPUs of compute capability 8.0 or more (Ampere, Hopper)
  and on CPUs with AMX or AVX512-BF16, float16 with loss scaling on GPUs of 7.x, float32 otherwise;
* :class:`DeviceFaces`: the whole training split as one tensor on the device; a training batch
  is a vector of indices into it (the images never cross the host-device link again);
* :class:`DeviceAugment`: the course's augmentation (flip, rotation, zoom, shift, contrast,
  brightness; the strengths of ``common.AUGMENT``) as plain tensor ops (``keras.ops``: one affine
  bilinear resampling by gathers, then the photometric changes), so that XLA compiles it into the
  training step on any backend. Keras' own image layers under JAX on a GPU made a step 170x
  slower (run 15 in data/EXPERIMENTS.md);
* :func:`forward_flops` (the multiply-adds of the convolutions and dense layers, times 2) for the
  time projections;
* :func:`pack_fer2013` / :func:`read_pack`: FER2013's decoded pixels in one xz file (about 56 MB for
  Training and PublicTest, the JPEG folders are 60 MB in 32,298 files) to take to a machine
  without the dataset, read back to the same :class:`helpers.FER2013Data` (same arrays, same order,
  so the same twin-free validation split).

Backend-agnostic Keras 3: the CPU tests run it on TensorFlow, the lent GPU machine (which has JAX
and no TensorFlow) on JAX.
"""

from __future__ import annotations

import io
import lzma
import os
from pathlib import Path

import keras
import numpy as np
from keras import ops

# --------------------------------------------------------------------------- precision


def precision_for(compute_capability: tuple[int, int] | None, cpu_flags: set[str] = frozenset()) -> tuple[str, str]:
    """The Keras dtype policy for a device, and why: ``(policy, reason)``.

    Args:
        compute_capability: the GPU's CUDA compute capability, e.g. ``(9, 0)`` for an H100; ``None``
            when training runs on the CPU.
        cpu_flags: the CPU's feature flags (``/proc/cpuinfo``), used when there is no GPU.

    bfloat16 needs tensor cores of compute capability 8.0 (Ampere) or more; float16 runs on 7.x
    (Volta, Turing) and needs loss scaling (``model.compile`` adds it under ``mixed_float16``);
    older GPUs get float32. On a CPU, bfloat16 is fast only with AMX or AVX512-BF16 (3x in run 2
    of data/EXPERIMENTS.md), else emulated and slower.
    """
    if compute_capability is not None:
        cc = f"{compute_capability[0]}.{compute_capability[1]}"
        if tuple(compute_capability) >= (8, 0):
            return "mixed_bfloat16", f"GPU compute capability {cc} >= 8.0: bfloat16 tensor cores"
        if tuple(compute_capability) >= (7, 0):
            return "mixed_float16", f"GPU compute capability {cc} (7.x): float16 tensor cores, loss scaling"
        return "float32", f"GPU compute capability {cc} < 7.0: no tensor cores"
    fast = sorted({"amx_bf16", "avx512_bf16"} & set(cpu_flags))
    if fast:
        return "mixed_bfloat16", f"CPU with {' and '.join(fast)}"
    return "float32", "CPU without AMX or AVX512-BF16"


def gpu_compute_capability() -> tuple[tuple[int, int] | None, str]:
    """The first GPU's compute capability as the Keras backend sees it, and its name (``(None, "CPU")`` without one)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if gpus:
            major, minor = str(getattr(gpus[0], "compute_capability", "0.0")).split(".")[:2]
            return (int(major), int(minor)), gpus[0].device_kind
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return tuple(details.get("compute_capability", (0, 0))), details.get("device_name", "GPU")
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_capability(0), torch.cuda.get_device_name(0)
    return None, "CPU"


def cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def choose_precision() -> tuple[str, str, str]:
    """``(policy, reason, device name)`` for this machine: :func:`precision_for` of what is detected."""
    cc, name = gpu_compute_capability()
    policy, reason = precision_for(cc, cpu_flags() if cc is None else set())
    return policy, reason, name


# --------------------------------------------------------------------------- data and augmentation on the device


class DeviceFaces(keras.layers.Layer):
    """All training faces in one non-trainable tensor on the device: ``(n,)`` int32 indices -> ``(n, 48, 48, 1)`` float32 pixels 0-255.

    Only the indices of a batch travel to the device each step (1 KB for 256 faces instead of
    590 KB of pixels). Pixels are stored as float32 (0-255 exactly): 265 MB for FER2013's 28,709
    training faces. Not part of any saved model: the checkpoints of ``tools.reference gpu`` leave it out.
    """

    def __init__(self, images: np.ndarray, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        images = np.asarray(images, "float32")
        self.faces = self.add_weight(shape=images.shape, initializer="zeros", trainable=False, name="faces")
        self.faces.assign(images)

    def call(self, indices):
        return ops.take(self.faces, ops.cast(indices, "int32"), axis=0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, *self.faces.shape[1:])


def _reflect(i, n: int):
    """Integer coordinates folded into ``0 .. n-1`` as Keras' ``fill_mode="reflect"`` does (d c b a | a b c d | d c b a)."""
    p = ops.mod(i, 2 * n)
    return ops.where(p >= n, 2 * n - 1 - p, p)


class DeviceAugment(keras.layers.Layer):
    """The course's augmentation (:func:`helpers.augmentation.augmentation_block`'s transforms and
    strengths) as tensor ops that compile into the training step; active only when ``training=True``.

    Per face: a random horizontal flip, rotation up to ``rotation`` of a full turn, zoom in or out
    up to ``zoom``, shift up to ``translation`` of the size (one affine map, bilinear resampling,
    reflected borders as the course's layers use), then contrast ``x -> mean + f (x - mean)`` with
    ``f`` in ``1 +- contrast`` and brightness ``+- brightness * 255``, clipped to 0-255.
    Input and output ``(n, 48, 48, 1)`` float32 pixels 0-255. ``seed``: the layer's random stream
    (a ``keras.random.SeedGenerator``, whose state a checkpoint keeps).
    """

    def __init__(self, flip: bool = True, rotation: float = 0.05, zoom: float = 0.10, translation: float = 0.10,
                 contrast: float = 0.3, brightness: float = 0.2, seed: int | None = None, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.settings = dict(flip=flip, rotation=rotation, zoom=zoom, translation=translation,
                             contrast=contrast, brightness=brightness)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _uniform(self, n, low, high):
        return keras.random.uniform((n,), low, high, seed=self.seed_generator)

    def call(self, x, training=False):
        if not training:
            return x
        s = self.settings
        n, h, w = ops.shape(x)[0], x.shape[1], x.shape[2]
        flip = ops.where(self._uniform(n, 0.0, 1.0) < 0.5, -1.0, 1.0) if s["flip"] else ops.ones((n,))
        angle = self._uniform(n, -2 * np.pi * s["rotation"], 2 * np.pi * s["rotation"])
        scale = self._uniform(n, 1 - s["zoom"], 1 + s["zoom"])
        dx = self._uniform(n, -s["translation"] * w, s["translation"] * w)
        dy = self._uniform(n, -s["translation"] * h, s["translation"] * h)
        cos, sin = ops.cos(angle) * scale, ops.sin(angle) * scale
        # each output pixel (u, v) reads the input at A @ (u - c, v - c) + c + shift
        u = ops.reshape(ops.arange(w, dtype="float32") - (w - 1) / 2, (1, 1, w))
        v = ops.reshape(ops.arange(h, dtype="float32") - (h - 1) / 2, (1, h, 1))
        e = lambda t: ops.reshape(t, (-1, 1, 1))  # noqa: E731  per-face numbers against the pixel grid
        src_x = e(cos * flip) * u - e(sin) * v + (w - 1) / 2 + e(dx)
        src_y = e(sin * flip) * u + e(cos) * v + (h - 1) / 2 + e(dy)
        x0, y0 = ops.floor(src_x), ops.floor(src_y)
        ax, ay = src_x - x0, src_y - y0
        x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
        flat = ops.reshape(x, (n, h * w))

        def at(yy, xx):
            index = _reflect(yy, h) * w + _reflect(xx, w)
            return ops.reshape(ops.take_along_axis(flat, ops.reshape(index, (n, h * w)), axis=1), (n, h, w))

        out = ((1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x0 + 1))
               + ay * ((1 - ax) * at(y0 + 1, x0) + ax * at(y0 + 1, x0 + 1)))
        if s["contrast"]:
            mean = ops.mean(out, axis=(1, 2), keepdims=True)
            out = mean + e(self._uniform(n, 1 - s["contrast"], 1 + s["contrast"])) * (out - mean)
        if s["brightness"]:
            out = out + e(self._uniform(n, -255 * s["brightness"], 255 * s["brightness"]))
        return ops.expand_dims(ops.clip(out, 0, 255), -1)

    def compute_output_shape(self, input_shape):
        return input_shape


def augment_settings(strength: dict | None) -> dict | None:
    """``common.AUGMENT[name]`` completed with :func:`helpers.augmentation.augmentation_block`'s defaults (None: no augmentation)."""
    if strength is None:
        return None
    from helpers.augmentation import DEFAULT_AUGMENTATION

    return {**DEFAULT_AUGMENTATION, **strength}


# --------------------------------------------------------------------------- cost


def forward_flops(model: keras.Model) -> int:
    """Floating-point operations of one face's forward pass through ``model``'s convolutions and
    dense layers: ``2 x`` multiply-adds, ``H_out * W_out * k_h * k_w * C_in * C_out`` per
    convolution and ``inputs * units`` per dense layer (batch norm, pooling and activations add
    under 1 %). Training costs about 3x this per face (the backward pass computes the gradients of
    the inputs and of the weights, each about one forward pass).
    """
    from keras import layers

    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            macs += forward_flops(layer) // 2
        elif isinstance(layer, layers.Conv2D) and not isinstance(layer, layers.SeparableConv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            macs += h * w * kh * kw * layer.input.shape[-1] * c_out
        elif isinstance(layer, layers.Dense):
            macs += layer.input.shape[-1] * layer.units
    return int(2 * macs)


# --------------------------------------------------------------------------- taking the data along

PACK_SUFFIX = ".npz.xz"


def pack_fer2013(data, path: str | os.PathLike) -> Path:
    """Write ``data`` (a :class:`helpers.FER2013Data`) as one xz-compressed ``.npz`` (:data:`PACK_SUFFIX`):
    every split's uint8 pixels and labels, in order, with its source and location.

    For a machine that has no copy of FER2013 and limits what can be sent (the lent GPU machine:
    64 MiB for the whole working tree). FER2013's pixels hardly compress (JPEG noise): xz with a
    row-delta filter keeps about 76 %, 56 MB for Training and PublicTest.
    """
    path = Path(path)
    if not path.name.endswith(PACK_SUFFIX):
        raise ValueError(f"name the pack *{PACK_SUFFIX} (got {path.name})")
    buffer = io.BytesIO()
    arrays = {f"x_{n}": s.images for n, s in data.splits.items()} | {f"y_{n}": s.labels for n, s in data.splits.items()}
    np.savez(buffer, split_names=np.array(list(data.splits)), source=np.array(data.source),
             location=np.array(str(data.location)), **arrays)
    filters = [{"id": lzma.FILTER_DELTA, "dist": 48}, {"id": lzma.FILTER_LZMA2, "preset": 9}]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(lzma.compress(buffer.getvalue(), format=lzma.FORMAT_XZ, filters=filters))
    os.replace(tmp, path)
    return path


def read_pack(path: str | os.PathLike):
    """The :class:`helpers.FER2013Data` that :func:`pack_fer2013` wrote to ``path``.

    Raises:
        ValueError: the file is not such a pack (damaged, or another file), with what to do.
    """
    from helpers.splits import FER2013Data, Split

    try:
        with np.load(io.BytesIO(lzma.decompress(Path(path).read_bytes())), allow_pickle=False) as z:
            splits = {str(n): Split(str(n), z[f"x_{n}"], z[f"y_{n}"]) for n in z["split_names"]}
            return FER2013Data(splits, str(z["source"]), str(z["location"]), [])
    except (lzma.LZMAError, KeyError, ValueError, OSError) as error:
        raise ValueError(f"{path} is not a FER2013 pack written by 'python -m tools.reference gpu --pack' "
                         f"({error}); pack the dataset again.") from error


def load_data(source: str):
    """FER2013 from a pack (:data:`PACK_SUFFIX`), else through :func:`helpers.data.load_fer2013` (folders, CSV, archives)."""
    if str(source).endswith(PACK_SUFFIX):
        return read_pack(source)
    from helpers.data import load_fer2013

    return load_fer2013(source, cache=False)
