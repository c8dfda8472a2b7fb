"""The README's SDK example runs, as written, against a live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support.sdk_support import LiveServer

README = Path(__file__).resolve().parent.parent / "README.md"


def sdk_example() -> str:
    """The first Python block under the README's ``## Python SDK`` heading."""
    text = README.read_text()
    section = text.split("\n## Python SDK\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "no python block under ## Python SDK"
    return match.group(1)


def test_the_readme_sdk_example_runs_against_a_live_server(live: LiveServer) -> None:
    env = {
        **os.environ,
        "ACTIVITYFEED_BASE_URL": live.url,
        "ACTIVITYFEED_API_KEY": live.key("readme"),
    }
    result = subprocess.run(
        [sys.executable, "-c", sdk_example()],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("created call-")
    created = lines[0].split()[1]
    assert f"changed {created}" in lines
    assert lines[-1].startswith("next time: client.sync(since='")
