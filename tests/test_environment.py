"""requirements.txt and environment.yml pin the same exact versions; OpenCV stays below 5.

OpenCV 5.0 has no CascadeClassifier and ships no Haar cascades, which the webcam lesson needs.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^\s*(?:-\s+)?([A-Za-z0-9][A-Za-z0-9._\-\[\]]*)\s*==\s*([^\s;#]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def pins_in(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


@pytest.fixture(scope="module")
def requirements() -> dict[str, str]:
    return pins_in((ROOT / "requirements.txt").read_text())


@pytest.fixture(scope="module")
def environment() -> dict[str, str]:
    return pins_in((ROOT / "environment.yml").read_text())


def test_requirements_pin_every_package_exactly():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            assert PIN.match(line), f"requirements.txt: pin an exact version: {line!r}"


def test_environment_yml_pins_the_same_versions(requirements, environment):
    assert requirements, "requirements.txt pins nothing"
    assert environment == requirements, (
        f"only in requirements.txt: {sorted(set(requirements) - set(environment))}; "
        f"only in environment.yml: {sorted(set(environment) - set(requirements))}; "
        f"different: {sorted(k for k in set(requirements) & set(environment) if requirements[k] != environment[k])}"
    )


def test_core_packages_are_pinned(requirements):
    for name in ("tensorflow", "keras", "numpy", "opencv-python-headless", "scikit-learn", "nbval", "pytest"):
        assert name in requirements, f"{name} not pinned in requirements.txt"
    assert requirements["tensorflow"].startswith("2.") and requirements["keras"].startswith("3.")


def test_opencv_below_5(requirements, environment):
    names = [n for n in requirements if n.startswith("opencv")]
    assert names, "OpenCV is not pinned"
    for pins in (requirements, environment):
        for name in names:
            assert int(pins[name].split(".")[0]) < 5, f"{name}=={pins[name]}: OpenCV 5 has no Haar cascades"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"opencv-python-headless[^"]*<5"', pyproject), "pyproject.toml should cap OpenCV below 5 too"


def test_installed_versions_match_the_pins(requirements):
    """The environment the tests run in is the one the pins describe (CI builds it from them)."""
    wrong = []
    for name in ("tensorflow", "keras", "numpy", "opencv-python-headless", "scikit-learn", "pandas", "pillow"):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if installed != requirements[name]:
            wrong.append(f"{name} {installed} (pinned {requirements[name]})")
    assert not wrong, "installed versions differ from requirements.txt: " + ", ".join(wrong)


def test_import_helpers_imports_no_framework():
    """CONTRIBUTING: `import helpers` must not import TensorFlow or Keras (they load lazily)."""
    import subprocess
    import sys

    code = (
        "import sys, helpers, helpers.data, helpers.checks, helpers.offline\n"
        "loaded = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
