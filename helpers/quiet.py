"""A quiet start: TensorFlow's start-up log lines silenced before TensorFlow loads.

TensorFlow's C++ libraries log to the process's stderr (file descriptor 2) while they load
("Could not find cuda drivers", "failed call to cuInit", oneDNN and CPU-instruction notes):
harmless on a CPU, but red and alarming in a notebook. ``TF_CPP_MIN_LOG_LEVEL=3`` (set here
unless you set it yourself) silences those logged after loading; the few written while the
libraries load (before absl's logging is set up, so no level applies) are filtered out of stderr
during the first ``import tensorflow``, and everything else written then is passed on. Python
warnings (the course's own) are untouched. Importing this module imports nothing heavy; it
installs an import hook (:class:`_QuietTensorFlowImport`) that acts once. Set
``TF_CPP_MIN_LOG_LEVEL`` to 0 before importing helpers to see every TensorFlow log line.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile

_TF_LOG_LINE = re.compile(rb"^([IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]|WARNING: All log messages before absl"
                          rb"|To enable the following instructions:)")


@contextlib.contextmanager
def _without_tensorflow_log_lines():
    """Capture file descriptor 2 and pass on every line except TensorFlow's C++ log lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = b"".join(line for line in captured if not _TF_LOG_LINE.match(line))
            if kept:
                os.write(2, kept)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: the first ``import tensorflow`` runs without TensorFlow's C++ log lines and
    leaves TensorFlow's Python logger at ERROR (no retracing warnings). Nothing is imported here."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow" or os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
            return None
        sys.meta_path.remove(self)  # once, and find the real module below
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return None
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with _without_tensorflow_log_lines():
            self._loader.exec_module(module)
        module.get_logger().setLevel(logging.ERROR)  # after TF's own set-up, which may choose INFO


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietTensorFlowImport())
