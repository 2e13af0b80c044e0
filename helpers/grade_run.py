"""Running one submitted notebook without letting it take the grader down (used by :mod:`helpers.grade`).

* :func:`read_submission`: the file's size checked before it is decoded, then JSON, nbformat 4,
  nbformat's schema and a Python kernel, or a one-line reason;
* :func:`capped_client`: an nbclient ``NotebookClient`` that keeps at most
  :data:`OUTPUT_LIMIT_BYTES` characters of output (the rest dropped as it arrives, the kernel
  interrupted) and talks to its kernel over Unix sockets;
* :func:`kernel_death`: why a kernel died, from its exit status or signal.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

OUTPUT_LIMIT_BYTES = 10_000_000  # characters of output a notebook may hold in the grader; the rest is dropped
NOTEBOOK_LIMIT_BYTES = 50_000_000  # the largest submitted file the grader decodes


def read_submission(path: str | os.PathLike, limit_bytes: int = NOTEBOOK_LIMIT_BYTES):
    """The notebook at ``path`` as an nbformat 4 node, or a one-line reason why it cannot be graded.

    Returns ``(notebook, "")`` or ``(None, reason)``; the reason reads after "the notebook ...".
    The size is checked before anything is decoded; the JSON must be nbformat 4 (a version-3 file is
    refused, not converted: it was not saved from this course's lessons) and valid against nbformat's
    schema, with a Python kernel (the checks run in Python; the kernel's *name* may differ, it is
    run under the grader's ``--kernel``). Never raises for a bad file.
    """
    import nbformat

    size = Path(path).stat().st_size
    if size > limit_bytes:
        return None, (f"was not graded: it is {size / 1e6:.3g} MB, over the {limit_bytes / 1e6:.3g} MB a submission may be "
                      "(clear its outputs in Jupyter, Edit > Clear Outputs of All Cells, and submit it again)")
    try:
        text = Path(path).read_bytes().decode("utf-8")
        raw = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"could not be read: it is not a notebook (not JSON: {str(exc).splitlines()[0]})"
    version = raw.get("nbformat") if isinstance(raw, dict) else None
    if version != 4:
        return None, (f"was not graded: it is nbformat {version} (JSON, but not a Jupyter notebook of this course, "
                      "which are nbformat 4); open and save it in Jupyter 4 or later, or run "
                      "`jupyter nbconvert --to notebook --nbformat 4` on it") if version else (
                      "could not be read: it is JSON but not a notebook (no nbformat version)")
    try:
        nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT, capture_validation_error={})
        nbformat.validate(nb)
    except Exception as exc:  # nbformat.ValidationError and whatever a malformed tree raises
        return None, f"could not be read: it is not a valid nbformat 4 notebook ({str(exc).splitlines()[0][:200]})"
    language = (nb.metadata.get("kernelspec", {}).get("language") or nb.metadata.get("language_info", {}).get("name") or "python")
    if str(language).lower() != "python":
        kernel = nb.metadata.get("kernelspec", {}).get("name", "?")
        return None, (f"was not graded: it is a notebook in {language} (kernel `{kernel}`); the course's exercises are "
                      "Python: submit the lesson's notebook, run with a Python 3 kernel")
    return nb, ""


def output_size(msg: dict) -> int:
    """Characters an output message adds (text, data payloads, tracebacks): a cheap upper-bound count."""
    content = msg.get("content", {})
    size = len(content.get("text", "")) + sum(len(line) for line in content.get("traceback", []))
    for value in content.get("data", {}).values():
        size += len(value) if isinstance(value, str) else len(json.dumps(value))
    return size


def capped_client(nb, limit: int, sockets: Path, **kwargs):
    """An nbclient ``NotebookClient`` that keeps at most ``limit`` characters of output per notebook.

    The limit is on what the notebook holds (a cell's ``clear_output`` gives its characters back:
    live plots that redraw are fine). Output past it is dropped as it arrives (the grader's memory
    does not grow with a student's prints), the kernel is interrupted once, and
    ``client.capped_cell`` names the cell.
    The kernel talks over Unix sockets named ``sockets-N`` (no TCP ports: kernels started at the
    same time by ``--jobs`` cannot race for one).
    """
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        kept_chars = 0  # output characters the notebook holds now (a cleared cell's are given back)
        capped_cell: int | None = None

        def create_kernel_manager(self):
            km = super().create_kernel_manager()
            km.transport, km.ip = "ipc", str(sockets)
            return km

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.cell_chars: dict[int, int] = {}

        def _forget(self, cell_index: int) -> None:
            self.kept_chars -= self.cell_chars.pop(cell_index, 0)

        def output(self, outs, msg, display_id, cell_index):
            if self.clear_before_next_output:  # a clear_output(wait=True) empties the cell before this output
                self._forget(cell_index)
            size = output_size(msg)
            if self.capped_cell is None and self.kept_chars + size <= limit:
                self.kept_chars += size
                self.cell_chars[cell_index] = self.cell_chars.get(cell_index, 0) + size
                return super().output(outs, msg, display_id, cell_index)
            if self.capped_cell is None:
                self.capped_cell = cell_index
                outs.append(_stream(f"[the grader dropped the output after {limit / 1e6:g} MB]"))
                asyncio.ensure_future(self._interrupt())
            return None

        def clear_output(self, outs, msg, cell_index):
            super().clear_output(outs, msg, cell_index)
            if not outs:
                self._forget(cell_index)

        async def _interrupt(self):
            from nbclient.util import ensure_async

            try:
                await ensure_async(self.km.interrupt_kernel())
            except Exception:  # a kernel that is already gone: the time limit or the dead-kernel check ends it
                pass

    return CappedClient(nb, **kwargs)


def _stream(text: str):
    """A ``stream`` output (stderr) holding ``text``."""
    import nbformat

    return nbformat.v4.new_output("stream", name="stderr", text=text + "\n")


def kernel_death(km) -> str:
    """Why a dead kernel ended: its exit status, read from the kernel manager's process, as words."""
    process = getattr(getattr(km, "provisioner", None), "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        return "the kernel died"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        why = {"SIGSEGV": "a crash in native code", "SIGKILL": "killed: out of memory?", "SIGABRT": "an abort in native code"}
        return f"the kernel crashed ({name}{': ' + why[name] if name in why else ''})"
    return f"the kernel exited with status {code} (a cell called os._exit, or a library ended the process)"


class OutputLimit(Exception):
    """A notebook printed more than the grader keeps."""
