"""Tamper evidence for :mod:`helpers.grade`: what a submitted notebook did to the checks, seen from outside.

The verdicts never come from the student's kernel (see :mod:`helpers.grade_trust`), so forging one
does not work; but an instructor wants to know who tried. Three kinds of evidence, each a sentence
that ends up in the row (status ``flagged``):

* **Static** (:func:`static_evidence`): the submitted notebook against the course's own lesson
  (``lessons/NN_*.ipynb``): check cells changed, deleted or moved; in any cell that is not one of
  the lesson's own, a reference to :mod:`helpers.checks` other than calling ``check``, ``hint``,
  ``self_check``, ``reveal`` or ``show_questions``, to ``EXERCISES``, ``QUIZZES``, ``FER_CHECK_LOG``,
  ``_record``, ``run_check`` or ``sys.modules``, a string naming them, or an assignment, ``setattr``
  or ``del`` on a course module; and an exercise function calling the very course function that
  the reference answer wraps (``from ..M import Y as reference`` in ``helpers/checks/lessonNN.py``).
* **Dynamic, in the kernel** (:func:`kernel_site`, :class:`EvidenceListener`): a ``sitecustomize``
  that the kernel runs before any cell installs an audit hook (:func:`sys.addaudithook`: it cannot
  be removed). It reports, over a socket to the grader (a channel the notebook cannot rewrite),
  every write, delete or rename outside the kernel's working folder and its usual caches; those
  into the course itself are also blocked. (Processes the kernel starts are not followed: libraries
  start some, e.g. ``uname``; what a child writes into the course shows in the hashes below.)
* **On disk** (:func:`tree_digest`): the course's ``helpers/`` and ``lessons/`` and the kernel's own
  copy of ``helpers/``, hashed before and after the run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import socket
import threading
from pathlib import Path

#: Calls of helpers.checks a student may type in a cell of their own (asking for a hint is no tampering).
ALLOWED_CHECK_CALLS = ("check", "hint", "self_check", "reveal", "show_questions")
SUSPECT_NAMES = ("EXERCISES", "QUIZZES", "FAILURES", "FER_CHECK_LOG", "_record", "run_check")
SUSPECT_TEXT = re.compile(r"helpers[./\\]checks|checks[./\\]core|FER_CHECK_LOG|EXERCISES|_record\b")
_CHECK_CALL = re.compile(r"\bcheck\(\s*([A-Za-z_]\w*)")


def tree_digest(root: str | os.PathLike, patterns: tuple[str, ...] = ("*.py",)) -> dict[str, str]:
    """SHA-256 of every file matching ``patterns`` below ``root`` (``__pycache__`` left out), by relative path."""
    root = Path(root)
    out = {}
    for pattern in patterns:
        for path in sorted(root.rglob(pattern)):
            if "__pycache__" not in path.parts and path.is_file():
                out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def digest_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """``["changed a.py", "deleted b.py", "added c.py"]`` between two :func:`tree_digest` results."""
    return ([f"changed {p}" for p in sorted(before) if p in after and after[p] != before[p]]
            + [f"deleted {p}" for p in sorted(set(before) - set(after))]
            + [f"added {p}" for p in sorted(set(after) - set(before))])


def python_source(cell_source: str) -> str:
    """A code cell as plain Python: IPython's magics and ``!`` lines become ``get_ipython()`` calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(cell_source)
    except Exception:  # pragma: no cover - IPython is there wherever nbclient is
        return cell_source


def parse(cell_source: str) -> ast.Module | None:
    """The cell's syntax tree, or ``None`` when it is not valid Python."""
    try:
        return ast.parse(python_source(cell_source))
    except (SyntaxError, ValueError):
        return None


def defines(cell_source: str, name: str) -> bool:
    """Whether the cell defines the function ``name`` at its top level."""
    tree = parse(cell_source)
    return tree is not None and any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in tree.body)


def _chain(node: ast.AST) -> list[str]:
    """``helpers.checks.core._record`` -> ``["helpers", "checks", "core", "_record"]`` ([] if not a plain chain)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else []


def _target_chain(node: ast.AST) -> list[str]:
    """An assignment target's path from its root name: ``helpers.checks.EXERCISES["x"].reference`` ->
    ``["helpers", "checks", "EXERCISES[]", "reference"]`` ([] when it does not start at a name)."""
    parts = []
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
        elif parts or True:
            parts.append("[]")
        node = node.value
    if not isinstance(node, ast.Name) or not parts:
        return []
    chain = [node.id]
    for part in reversed(parts):
        if part == "[]":
            chain[-1] += "[]"
        else:
            chain.append(part)
    return chain


def course_aliases(trees: list[ast.Module]) -> dict[str, str]:
    """Names bound to course modules or objects by imports in these cells: ``{"d": "helpers.data", ...}``."""
    aliases = {"helpers": "helpers"}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "helpers":
                        aliases[a.asname or "helpers"] = a.name if a.asname else "helpers"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "helpers" and not node.level:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _full(chain: list[str], aliases: dict[str, str]) -> str:
    return ".".join([aliases[chain[0]], *chain[1:]]) if chain and chain[0] in aliases else ".".join(chain)


def cell_evidence(tree: ast.Module, aliases: dict[str, str]) -> list[str]:
    """What in one (student-written or changed) cell touches the checks or rebinds course code."""
    seen: list[str] = []
    allowed_calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)
                     and _full(_chain(n.func), aliases) in {f"helpers.checks.{c}" for c in ALLOWED_CHECK_CALLS}}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            names = [] if isinstance(node, ast.Import) else [a.name for a in node.names]
            if any(m.startswith("helpers.checks") for m in modules) or (modules == ["helpers"] and "checks" in names):
                seen.append(f"imports helpers.checks (line {node.lineno})")
        elif isinstance(node, ast.Attribute) and id(node) not in allowed_calls:
            full = _full(_chain(node), aliases)
            if full.startswith("helpers.checks") and not any(_full(_chain(p), aliases).startswith(full + ".")
                                                          for p in ast.walk(tree) if isinstance(p, ast.Attribute) and p is not node
                                                          and _chain(p)[: len(_chain(node))] == _chain(node)):
                seen.append(f"uses {full} (line {node.lineno})")
            elif node.attr in SUSPECT_NAMES or full == "sys.modules":
                seen.append(f"uses {full or '.' + node.attr} (line {node.lineno})")
        elif isinstance(node, ast.Name) and node.id in SUSPECT_NAMES:
            seen.append(f"uses {node.id} (line {node.lineno})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SUSPECT_TEXT.search(node.value):
            seen.append(f"names {SUSPECT_TEXT.search(node.value).group(0)} in a string (line {node.lineno})")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                chain = _target_chain(target)
                if chain and (chain[0] in aliases or chain[0].rstrip("[]") in aliases or chain[0] == "sys"):
                    seen.append(f"{'deletes' if isinstance(node, ast.Delete) else 'rebinds'} {_full(chain, aliases)} (line {node.lineno})")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr") and node.args:
            chain = _chain(node.args[0])
            if chain and chain[0] in aliases:
                seen.append(f"calls {node.func.id} on {_full(chain, aliases)} (line {node.lineno})")
    changed = {s.split(" (line")[0].split(" ", 1)[1] for s in seen if s.startswith(("rebinds ", "deletes "))}
    seen = [s for s in seen if not (s.startswith("uses ") and s.split(" (line")[0][5:] in changed)]
    return list(dict.fromkeys(seen))


def wrapped_function(reference_source: str) -> tuple[str, str] | None:
    """``("helpers.splits", "class_counts")`` when a reference reads ``from ..splits import class_counts as reference``."""
    found = re.search(r"from \.+([\w.]+) import (\w+) as reference", reference_source)
    return (f"helpers.{found.group(1)}", found.group(2)) if found else None


def calls_wrapped(exercise_cell: str, exercise: str, wrapped: tuple[str, str], aliases: dict[str, str]) -> list[str]:
    """Where an exercise cell uses the course function that its reference answer wraps."""
    tree = parse(exercise_cell)
    if tree is None:
        return []
    module, name = wrapped
    own = {**aliases, **course_aliases([tree])}
    seen = []
    for node in ast.walk(tree):
        chain = _chain(node) if isinstance(node, (ast.Attribute, ast.Name)) else []
        if not chain or (len(chain) == 1 and chain[0] == exercise):
            continue
        full = _full(chain, own)
        if full.startswith("helpers") and full.split(".")[-1] == name and (len(chain) > 1 or chain[0] in own):
            seen.append(f"{exercise} uses {full} (line {node.lineno}), the course function the reference answer is "
                        f"({module}.{name})")
    return list(dict.fromkeys(seen))


def check_cells(nb) -> list[tuple[int, str, str]]:
    """``(cell index, exercise, stripped source)`` of every cell calling ``check(name)``."""
    return [(i, m.group(1), c.source.strip()) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for m in [_CHECK_CALL.search(c.source)] if m]


def check_cell_evidence(nb, pristine) -> dict[str, list[str]]:
    """Per exercise: its check cell changed, deleted or moved (against the lesson's own notebook)."""
    theirs = [(i, c.source.strip()) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    evidence: dict[str, list[str]] = {}
    last = -1
    for _, exercise, source in check_cells(pristine):
        same = [i for i, s in theirs if s == source]
        if not same:
            calls = [i for i, s in theirs if re.search(rf"\bcheck\(\s*{re.escape(exercise)}\b|^{re.escape(exercise)}\s*=", s, re.MULTILINE)]
            evidence.setdefault(exercise, []).append(
                f"its check cell was changed (cell {calls[0] + 1})" if calls else "its check cell was deleted")
            continue
        if same[0] < last:
            evidence.setdefault(exercise, []).append(f"its check cell was moved (cell {same[0] + 1})")
        last = max(last, same[0])
    return evidence


def lesson_cells(pristine) -> set[str]:
    """The stripped sources of a lesson's own code cells: those are never evidence."""
    return {c.source.strip() for c in pristine.cells if c.cell_type == "code"} if pristine is not None else set()


def static_evidence(nb, pristine, wrapped: dict[str, tuple[str, str]], exercise_cells: dict[str, str]
                    ) -> tuple[list[str], dict[str, list[str]]]:
    """``(notebook-wide evidence, evidence per exercise)`` for a submitted notebook (``nbformat`` nodes).

    ``wrapped``: exercise -> the course function its reference wraps (:func:`wrapped_function`);
    ``exercise_cells``: exercise -> the source of the student's cell defining it.
    """
    own = lesson_cells(pristine)
    trees = [(i, c.source, parse(c.source)) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip() not in own]
    aliases = course_aliases([t for _, _, t in trees if t is not None])
    owner = {cell: exercise for exercise, cell in exercise_cells.items() if cell}
    notebook: list[str] = []
    per_exercise = check_cell_evidence(nb, pristine) if pristine is not None else {}
    for i, source, tree in trees:
        found = [f"cell {i + 1} {what}" for what in cell_evidence(tree, aliases)] if tree is not None else []
        if source in owner:  # the exercise's own cell: evidence against that exercise
            per_exercise.setdefault(owner[source], []).extend(found)
        else:
            notebook += found
    for exercise, cell in exercise_cells.items():
        if exercise in wrapped and cell:
            per_exercise.setdefault(exercise, []).extend(calls_wrapped(cell, exercise, wrapped[exercise], aliases))
    return notebook, {k: v for k, v in per_exercise.items() if v}


# ----------------------------------------------------------------------------------- in the kernel
_SITE = r'''
"""Installed by helpers.grade in the kernel of a graded notebook: reports what the notebook writes outside its folder."""
import json as _json, os as _os, socket as _socket, sys as _sys

def _fer_grade_guard(address=_os.environ.pop("FER_GRADE_EVIDENCE", ""), allowed=_os.environ.pop("FER_GRADE_ALLOWED", "[]"),
                     blocked=_os.environ.pop("FER_GRADE_BLOCKED", "[]"), course=_os.environ.pop("FER_GRADE_COURSE", "")):
    if not address:
        return
    if course:
        _sys.path.insert(0, course)
    channel = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    channel.connect(address)
    send, dumps, realpath, fsdecode, sep = channel.sendall, _json.dumps, _os.path.realpath, _os.fsdecode, _os.sep
    getpeername = channel.getpeername
    allowed, blocked = tuple(_json.loads(allowed)), tuple(_json.loads(blocked))
    writing = _os.O_WRONLY | _os.O_RDWR | _os.O_APPEND | _os.O_CREAT | _os.O_TRUNC
    path_events = {"os.remove": 0, "os.rename": 0, "os.replace": 0, "os.rmdir": 0, "os.truncate": 0, "os.symlink": 1,
                   "os.link": 1, "shutil.rmtree": 0, "os.chmod": 0, "os.mkdir": 0}

    def under(path, roots):
        return any(path == r or path.startswith(r + sep) for r in roots)

    def report(what, block):
        try:
            if getpeername() != address:  # the channel was swapped for another socket
                raise OSError("not the grader's channel")
            send((dumps({"what": what}) + "\n").encode())
        except OSError:
            raise PermissionError("the grader's evidence channel is gone: " + what) from None
        if block:
            raise PermissionError("the grader does not allow this: " + what)

    def look(path):
        if path is None or isinstance(path, int):
            return None
        try:
            return realpath(fsdecode(path))
        except (TypeError, ValueError):
            return None

    def hook(event, args):
        if event == "open":
            path = look(args[0])
            if path is not None and ((args[1] and any(c in args[1] for c in "wax+")) or (args[2] or 0) & writing) \
                    and not under(path, allowed):
                report("wrote " + path, under(path, blocked))
        elif event in path_events:
            path = look(args[path_events[event]])
            if path is not None and not under(path, allowed):
                report(event + " " + path, under(path, blocked))

    _sys.addaudithook(hook)

_fer_grade_guard()
del _fer_grade_guard
'''


def kernel_site(folder: Path) -> Path:
    """Write the kernel's ``sitecustomize.py`` into ``folder`` (put ``folder`` on the kernel's PYTHONPATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITE, encoding="utf-8")
    return folder


class EvidenceListener:
    """The grader's end of the kernel's evidence channel: a UNIX socket and a thread collecting lines.

    ``address`` is the socket's path (for ``FER_GRADE_EVIDENCE``); :meth:`close` stops listening and
    returns what was reported, plus a note when no kernel ever connected (the hook never ran).
    """

    def __init__(self, address: Path, limit: int = 200):
        self.address, self.limit, self.seen, self.connected = str(address), limit, [], False
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.address)
        self.server.listen(4)
        self.server.settimeout(0.5)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except (socket.timeout, OSError):
                continue
            self.connected = True
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while len(self.seen) < self.limit:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    try:
                        what = str(json.loads(line)["what"])[:300]
                    except (ValueError, KeyError, TypeError):
                        what = "sent the grader's evidence channel something else"
                    if what not in self.seen:
                        self.seen.append(what)
                buffer = buffer[-65536:]

    def close(self) -> list[str]:
        self.stop.set()
        self.thread.join(timeout=2)
        self.server.close()
        return list(self.seen)
