"""The type hints of the Python side (models/, sweep/, bench/, scripts/) are present on every function
and consistent: Debian's mypy (package `mypy`) with the settings in pyproject.toml [tool.mypy]
(disallow_untyped_defs, so a new function without hints fails here too)."""

import os
import shutil

from tests.harness import PY, REPO_ROOT, run

MYPY = shutil.which("mypy", path="/usr/bin")


def test_mypy_passes_on_the_python_packages():
    assert MYPY is not None, "Debian's mypy is missing: scripts/setup.sh installs it (apt install mypy)"
    p = run([PY, "-m", "mypy", "--no-error-summary", "--cache-dir", os.path.join(REPO_ROOT, "build", "mypy-cache")],
            timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr


def test_mypy_config_demands_hints_on_every_function():
    """The check above is only as strong as its settings."""
    import tomllib
    with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as f:
        cfg = tomllib.load(f)["tool"]["mypy"]
    assert cfg["disallow_untyped_defs"] is True and cfg["disallow_incomplete_defs"] is True
    assert set(cfg["files"]) == {"models", "sweep/bayescim_sweep", "bench", "scripts"}


def test_no_python_file_above_600_lines():
    """Files stay small enough to read (the spec loader was split for this)."""
    long = []
    for folder in ("models", "sweep", "bench", "scripts"):
        for root, _, files in os.walk(os.path.join(REPO_ROOT, folder)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    with open(path) as f:
                        n = sum(1 for _ in f)
                    if n > 600:
                        long.append(f"{os.path.relpath(path, REPO_ROOT)}: {n} lines")
    assert not long, long
