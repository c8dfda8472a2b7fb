"""schemathesis against the service on every store: every check, valid and invalid data, every
phase (examples, coverage, fuzzing, stateful through the document's links), and no failure.

The pinned schemathesis CLI runs in a subprocess on this interpreter against a live server on
127.0.0.1 (uvicorn in a thread, with the options of ``activityfeed serve``), with a read-write
key and rate limiting off. ``support/schemathesis_hooks.py`` applies the rules the document
states but JSON Schema cannot (conflicting and dependent query parameters, ids unique in a
batch, an id
already taken) and serialises NDJSON. In CI each store answers at least 2,000 requests; a
developer's run is shorter. ``ACTIVITYFEED_SCHEMATHESIS_SEED`` picks another seed (default: a
fixed one, so that CI runs the same requests each time).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import IN_CI
from support.sdk_support import LiveServer

pytest.importorskip("schemathesis")

TESTS = Path(__file__).resolve().parents[1]  # tests/, where support/ lives
# Examples per operation in the fuzzing phase; the other phases take what they need.
MAX_EXAMPLES = 50 if IN_CI else 5
MIN_REQUESTS_IN_CI = 2000
SEED = os.environ.get("ACTIVITYFEED_SCHEMATHESIS_SEED", "20240501")


def run_schemathesis(
    server: LiveServer, workdir: Path
) -> tuple[subprocess.CompletedProcess[str], int]:
    """The CLI's run against ``server``, and how many requests it had answered."""
    count = workdir / "requests"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "support.schemathesis_hooks",
        "SCHEMATHESIS_REQUEST_COUNT": str(count),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        "NO_COLOR": "1",
    }
    args = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{server.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {server.key('acme')}",
        "--checks",
        "all",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "1",
        "--request-timeout",
        "30",
    ]
    # The working directory takes schemathesis's cache (.schemathesis/), not the checkout.
    result = subprocess.run(
        args, cwd=workdir, env=env, capture_output=True, text=True, timeout=840, check=False
    )
    return result, count.stat().st_size if count.exists() else 0


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_schemathesis_finds_nothing_with_every_check_phase_and_mode(
    live: LiveServer, tmp_path: Path
) -> None:
    result, requests = run_schemathesis(live, tmp_path)
    print(f"schemathesis: {requests} requests answered")  # shown with -rP or -s
    report = result.stdout[-30000:] + result.stderr[-5000:]
    assert result.returncode == 0, report
    assert "No issues found" in result.stdout, report
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in result.stdout, report
    if IN_CI:
        assert requests >= MIN_REQUESTS_IN_CI, report
    else:
        assert requests > 0
