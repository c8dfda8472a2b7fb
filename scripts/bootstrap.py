"""Create the project's virtual environment and install the project into it.

Shared by ``scripts/run.py`` and ``scripts/test.py`` so that a fresh machine
with only Python 3.11+ and pip needs nothing else.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("ACTIVITYFEED_VENV", ROOT / ".venv"))


def venv_python() -> Path:
    """The virtual environment's interpreter."""
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def ensure(extras: str) -> Path:
    """The interpreter of a virtual environment with the project installed with ``extras``."""
    if sys.version_info < (3, 11):  # noqa: UP036 (run by whatever python3 is first)
        sys.exit("activityfeed needs Python 3.11 or newer")
    python = venv_python()
    if not python.exists():
        print(f"creating a virtual environment in {VENV.name}/", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        print(f"installing activityfeed[{extras}] and its dependencies", flush=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-e",
                f"{ROOT}[{extras}]",
            ],
            check=True,
        )
        stamp.write_text(digest)
    return python
