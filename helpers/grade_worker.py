"""The grader's worker: calls a student's exercise functions on the hidden cases, in a process of its own.

Started by :mod:`helpers.grade_trust` as ``python -I -B <copy>/helpers/grade_worker.py FOLDER FD``
from a copy of the course's ``helpers`` that has no :mod:`helpers.checks` (so a student's function
cannot call the reference answer), inside ``FOLDER`` (its working folder, HOME and TMPDIR). It
reads ``FOLDER/job.pkl`` (written by the trusted grader: pickles are safe in that direction only),
and for each exercise builds a fresh namespace from the course's own lesson import statements,
executes the student's exercise cell in it, and calls the function on every case. Each answer is
written as data by :func:`helpers.grade_answers.encode` (``FOLDER/out``); what happened is sent as
JSON lines on file descriptor ``FD``::

    {"event": "begin", "exercise": 0}
    {"event": "case", "exercise": 0, "case": 0, "status": "answer", "stem": "e0_c0"}
    {"event": "case", ..., "status": "raised", "type": "ZeroDivisionError", "message": "division by zero"}
    {"event": "guard", "what": "wrote /elsewhere/x (outside its folder): blocked"}
    {"event": "end"}

Before any student code runs, an audit hook (:func:`sys.addaudithook`: it cannot be removed) blocks
and reports opening the course's checks or solutions, writing or deleting outside ``FOLDER`` and
starting processes. Nothing here decides a verdict: the trusted grader does, from the answers.
"""

from __future__ import annotations

import os
import sys


def install_guard(fd: int, folder: str, forbidden: tuple[str, ...]) -> None:
    """Block and report (on ``fd``) what a graded function must not do; see the module docstring."""
    import json

    write, dumps, realpath, fsdecode = os.write, json.dumps, os.path.realpath, os.fsdecode
    inside = realpath(folder) + os.sep
    writing_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    path_events = {"os.remove": 0, "os.rename": 0, "os.replace": 0, "os.rmdir": 0, "os.mkdir": 0, "os.truncate": 0,
                   "os.chmod": 0, "os.symlink": 1, "os.link": 1, "shutil.rmtree": 0, "os.utime": 0, "os.chown": 0}
    processes = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn"}

    def report(what: str) -> None:
        try:
            write(fd, (dumps({"event": "guard", "what": what}) + "\n").encode())
        except OSError:
            pass
        raise PermissionError(f"the grader does not allow this: {what}")

    def where(path) -> str | None:
        if isinstance(path, int) or path is None:
            return None
        try:
            return realpath(fsdecode(path))
        except (TypeError, ValueError):
            return None

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path = where(args[0])
            if path is None:
                return
            mode, flags = args[1] or "", args[2] or 0
            if any(path == f or path.startswith(f + os.sep) for f in forbidden):
                report(f"opened {path} (the course's checks or solutions)")
            if (any(c in mode for c in "wax+") or flags & writing_flags) and not (path + os.sep).startswith(inside) \
                    and path != os.devnull:
                report(f"opened {path} for writing (outside its folder)")
        elif event in path_events:
            path = where(args[path_events[event]])
            if path is not None and not (path + os.sep).startswith(inside):
                report(f"{event} {path} (outside its folder)")
        elif event in processes:
            report(f"started a process ({event})")

    sys.addaudithook(hook)


def _send(fd: int, **message) -> None:
    import json

    os.write(fd, (json.dumps(message) + "\n").encode())


def _copy(args: tuple) -> tuple:
    """As the notebook's check does (helpers.checks.core._copy): arrays are copied, the rest is handed over."""
    import numpy as np

    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


class _OnFirstUse:
    """``import keras`` that costs nothing until used: most exercises never touch TensorFlow."""

    def __init__(self, name: str):
        self.__dict__["_name"] = name

    def __getattr__(self, attribute: str):
        import importlib

        return getattr(importlib.import_module(self.__dict__["_name"]), attribute)

    def __repr__(self) -> str:
        return f"<module {self.__dict__['_name']!r} (imported on first use)>"


_HEAVY = {"import keras": ("keras", "keras"), "import tensorflow as tf": ("tf", "tensorflow"),
          "import tensorflow": ("tensorflow", "tensorflow")}


def _namespace(statements: list[str], cell: str) -> tuple[dict, str]:
    """The lesson's import statements (each on its own: one that fails is skipped), then the exercise cell."""
    namespace: dict = {"__name__": "__main__"}
    for statement in statements:
        if statement in _HEAVY and _HEAVY[statement][1] not in sys.modules:
            namespace[_HEAVY[statement][0]] = _OnFirstUse(_HEAVY[statement][1])
            continue
        try:
            exec(compile(statement, "<lesson import>", "exec"), namespace)
        except Exception:
            pass
    try:
        exec(compile(cell, "<exercise cell>", "exec"), namespace)
    except BaseException as exc:  # SystemExit too: the cell may not end the worker
        return namespace, f"{type(exc).__name__}: {exc}"
    return namespace, ""


def _is_keras(value) -> bool:
    return (type(value).__module__ or "").startswith("keras")


def run_exercise(fd: int, k: int, job: dict, out: str) -> None:
    """Execute exercise ``k``'s cell and call its function on every case; report each outcome on ``fd``."""
    import pickle

    from helpers.grade_answers import Unencodable, encode

    _send(fd, event="begin", exercise=k)
    namespace, problem = _namespace(job["statements"], job["cell"])
    function = namespace.get(job["name"])
    if problem or not callable(function):
        _send(fd, event="cell", exercise=k, problem=problem or f"the cell defines no function {job['name']}")
        return
    cases = pickle.loads(job["cases"])
    try:  # the same run every time: seed 0, as the checks' own cases seed their models (Keras too when loaded)
        import random

        import numpy as np
        from helpers.course import seed_everything

        random.seed(0)
        np.random.seed(0)
        if "keras" in sys.modules:
            seed_everything(0)
    except Exception:
        pass
    for j, args in enumerate(cases):
        message = {"event": "case", "exercise": k, "case": j}
        try:
            got = function(*_copy(args))
        except NotImplementedError:
            message.update(status="not attempted")
        except BaseException as exc:  # SystemExit and KeyboardInterrupt are the student's code too
            message.update(status="raised", type=type(exc).__name__, message=str(exc)[:2000])
        else:
            try:
                encode(got, out, f"e{k}_c{j}")
                if job["return_args"]:  # a model the function was handed and trained is part of its answer
                    encode({i: a for i, a in enumerate(args) if _is_keras(a)}, out, f"e{k}_c{j}_args")
                message.update(status="answer", stem=f"e{k}_c{j}")
            except Unencodable as exc:
                message.update(status="unencodable", message=str(exc))
            except Exception as exc:
                message.update(status="unencodable", message=f"{type(exc).__name__}: {exc}"[:2000])
        _send(fd, **message)
        if message["status"] == "not attempted":
            break
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except Exception:
        pass


def run_quiz(fd: int, job: dict, out: str) -> None:
    """Execute the self-check answers cell and send back the ``self_check_answers`` it defines, as data."""
    from helpers.grade_answers import encode

    namespace, problem = _namespace([], job["cell"])
    answers = namespace.get("self_check_answers")
    if problem or not isinstance(answers, dict):
        _send(fd, event="quiz", problem=problem or "the cell defines no dict self_check_answers")
        return
    plain = {k: v for k, v in answers.items() if isinstance(k, (int, str)) and isinstance(v, (int, float, str, bool, type(None)))}
    encode(plain, out, "quiz")
    _send(fd, event="quiz", stem="quiz")


def main(folder: str, fd: int) -> None:
    """Run the job in ``folder`` from exercise ``job['first']`` on; see the module docstring."""
    import json
    import pickle

    with open(os.path.join(folder, "guard.json"), encoding="utf-8") as f:
        forbidden = tuple(json.load(f))
    with open(os.path.join(folder, "job.pkl"), "rb") as f:
        job = pickle.load(f)
    import numpy  # noqa: F401  (loaded before the guard: its own files are not the student's doing)

    if job.get("preload_keras"):
        import keras  # noqa: F401
    import matplotlib

    matplotlib.use("agg")
    out = os.path.join(folder, "out")
    for statements in {tuple(e["statements"]) for e in job["exercises"]}:
        _namespace(list(statements), "")  # the course's own imports, loaded before the guard (some start a process)
    install_guard(fd, folder, forbidden)
    for k in range(job["first"], len(job["exercises"])):
        run_exercise(fd, k, job["exercises"][k], out)
    if job.get("quiz"):
        _send(fd, event="begin", exercise=len(job["exercises"]))
        run_quiz(fd, job["quiz"], out)
    _send(fd, event="end")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the copy, not the course
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower() + repr(f).lower()]
    main(sys.argv[1], int(sys.argv[2]))
