"""Run every check CI runs: lint, format, types, then the whole test suite.

    python3 scripts/test.py [pytest arguments...]

Installs what it needs into .venv/. With CI=true the PostgreSQL and Redis
tests must find their servers (``.ci/run`` points them there); elsewhere they
skip with a reason when the servers are not reachable.
"""

from __future__ import annotations

import os
import subprocess
import sys

from bootstrap import ROOT, ensure


def run(*args: str) -> None:
    print("+", " ".join(args[1:]) if args[0].endswith("python") else " ".join(args), flush=True)
    result = subprocess.run(args, cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit(result.returncode)


if __name__ == "__main__":
    python = str(ensure("dev"))
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    run(python, "-m", "ruff", "check", "src", "tests", "bench", "scripts")
    run(python, "-m", "ruff", "format", "--check", "src", "tests", "bench", "scripts")
    run(python, "-m", "mypy")
    run(python, "-m", "pytest", *sys.argv[1:])
