"""A tiny run of the benchmark harness, so that it keeps working (nothing is timed)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need_service

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_harness_runs_every_scenario_on_every_store(tmp_path: Path) -> None:
    stores = ["sqlite"]
    env = dict(os.environ)
    pg_url = os.environ.get("ACTIVITYFEED_TEST_POSTGRES_URL")
    name = f"af_smoke_{secrets.token_hex(4)}"
    if pg_url:
        stores.append("postgres")
    elif os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        need_service("PostgreSQL", "ACTIVITYFEED_TEST_POSTGRES_URL is not set")
    base = (pg_url or "postgresql://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "run.py"),
                "--smoke",
                "--no-datasette",
                "--stores",
                ",".join(stores),
                "--postgres-url",
                f"{base}/{name}",
                "--output",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    finally:
        if pg_url:
            import psycopg

            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rows = json.loads((tmp_path / "results.json").read_text())
    measured = {(r["target"], r["scenario"]) for r in rows}
    for store in stores:
        for n in range(1, 10):
            assert (store, f"S{n}") in measured
    assert ("floor", "S1") in measured
    assert all(r["errors"] == 0 for r in rows), [r for r in rows if r["errors"]]
    assert "S1 team feed" in (tmp_path / "benchmarks.md").read_text()
