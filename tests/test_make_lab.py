"""`make lab` as the README says it: JupyterLab started by the Makefile's own recipe serves the course.

The test runs ``make lab`` in the repository with the Python environment running the tests as
``VENV`` (``-o`` marks its setup as done: nothing is installed) and ``LAB_ARGS`` adding
``--no-browser``, a free port and a token. Then, through JupyterLab's REST API, it checks that
``lessons/00_welcome.ipynb``, ``solutions/`` and the README are served and that a kernel starts.

It runs once as the user running the tests (root adds ``--allow-root``: containers and cloud VMs)
and, when that is root, once more as an ordinary account (``runuser -u nobody``), which takes
the Makefile's path without ``--allow-root``. Each case skips, saying why, where it cannot run:
no ``make``, no JupyterLab, no ``runuser``, or an environment the other account cannot use (its
Python lives in root's home). About 10 s per case.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OTHER_USER = "nobody"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url: str, token: str, method: str = "GET") -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
            return answer.status, json.loads(body) if body else {}
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except OSError:  # not listening yet
        return 0, {}


def as_user_prefix(user: str | None, home: Path) -> list[str]:
    """The command prefix that runs as ``user`` (None: as the current user), or a skip."""
    if user is None:
        return []
    if os.geteuid() != 0:
        pytest.skip(f"running as uid {os.geteuid()}, not root: the run as this user already takes the non-root path")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("runuser is not installed: cannot start JupyterLab as an ordinary account")
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        pytest.skip(f"no '{user}' account on this machine")
    probe = subprocess.run([runuser, "-u", user, "--", sys.executable, "-c", "import jupyterlab"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"'{user}' cannot use this Python environment ({sys.executable}; its interpreter or packages "
                    f"are not readable by other accounts): {probe.stderr.strip()[-200:]}")
    os.chown(home, account.pw_uid, account.pw_gid)
    return [runuser, "-u", user, "--"]


@pytest.mark.parametrize("user", [None, OTHER_USER], ids=["this-user", "ordinary-user"])
def test_make_lab_serves_lessons_and_solutions(tmp_path, user):
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (pip install -r requirements.txt)")
    venv = Path(sys.prefix)
    if not (venv / "bin" / "jupyter").is_file():
        pytest.skip(f"the tests do not run from a virtual environment with bin/jupyter ({venv})")
    # pytest's tmp_path is private to this user: the other account gets a folder of its own in /tmp
    home = Path(tempfile.mkdtemp(prefix="fer-lab-home-")) if user else tmp_path / "home"
    home.mkdir(exist_ok=True)
    try:
        run_make_lab(make, venv, home, as_user_prefix(user, home), tmp_path / "lab.log", user)
    finally:
        if user:
            shutil.rmtree(home, ignore_errors=True)


def run_make_lab(make: str, venv: Path, home: Path, prefix: list[str], log_path: Path, user: str | None) -> None:
    """Start ``make lab`` with ``prefix`` (another user or none), check what it serves, stop it."""
    port, token = free_port(), secrets.token_hex(16)
    lab_args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} --LabApp.news_url="
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "JUPYTER_CONFIG_DIR": str(home / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "PYTHONPATH": str(ROOT)}
    command = prefix + ["env", *(f"{k}={v}" for k, v in env.items()), make, "--no-print-directory", "-C", str(ROOT),
                        "-o", f"{venv}/bin/.installed", "lab", f"VENV={venv}", f"LAB_ARGS={lab_args}"]
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while api(f"{url}/api/status", token)[0] != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make lab did not start JupyterLab (exit {server.poll()}):\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        log = log_path.read_text()
        recipe = log.splitlines()[0]
        assert "jupyter lab" in recipe and "lessons/00_welcome.ipynb" in recipe, recipe
        assert ("--allow-root" in recipe) == (os.geteuid() == 0 and user is None), recipe
        status, welcome = api(f"{url}/api/contents/lessons/00_welcome.ipynb?content=0", token)
        assert status == 200 and welcome["type"] == "notebook", (status, welcome)
        status, solutions = api(f"{url}/api/contents/solutions", token)
        names = {item["name"] for item in solutions.get("content", [])}
        assert status == 200 and "00_welcome.ipynb" in names and "07_webcam.ipynb" in names, (status, sorted(names))
        assert api(f"{url}/api/contents/README.md?content=0", token)[0] == 200
        assert api(f"{url}/api/contents/solutions", "wrong-token")[0] == 403  # the token is required
        status, kernel = api(f"{url}/api/kernels", token, method="POST")
        assert status == 201, f"no kernel started ({status}):\n{log_path.read_text()[-2000:]}"
        api(f"{url}/api/kernels/{kernel['id']}", token, method="DELETE")
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
