"""The SDK needs httpx only: it imports no server module, and installs without the extra."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement

from activityfeed.client import Client

ROOT = Path(__file__).resolve().parents[2]
SERVER_MODULES = ("starlette", "uvicorn", "orjson", "click", "rich", "psycopg", "redis")
CLIENT_MODULES = ("activityfeed", "activityfeed.timestamps", "activityfeed.fields")


def _modules_after(statement: str) -> set[str]:
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def test_importing_the_client_imports_no_server_module() -> None:
    modules = _modules_after("import activityfeed.client")
    # httpx itself imports click and rich for its own CLI when they are installed.
    added = modules - _modules_after("import httpx")
    server = sorted(m for m in added if m.split(".")[0] in SERVER_MODULES)
    assert server == []
    assert "starlette" not in modules and "orjson" not in modules
    ours = sorted(
        m
        for m in modules
        if m.startswith("activityfeed")
        and m not in CLIENT_MODULES
        and not m.startswith("activityfeed.client")
    )
    assert ours == []  # no activityfeed.model, .storage, .http, .service...


def test_the_base_install_requires_httpx_only() -> None:
    requirements = [Requirement(r) for r in importlib.metadata.requires("activityfeed") or []]
    base = [r.name for r in requirements if r.marker is None]
    assert base == ["httpx"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _copy_distribution(name: str, site: Path, done: set[str]) -> None:
    """Copy an installed distribution and its dependencies into ``site`` (offline install)."""
    dist = importlib.metadata.distribution(name)
    key = dist.metadata["Name"].lower()
    if key in done:
        return
    done.add(key)
    for file in dist.files or []:
        source = Path(str(dist.locate_file(file)))
        if source.is_file() and ".." not in file.parts:
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for raw in dist.requires or []:
        requirement = Requirement(raw)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            _copy_distribution(requirement.name, site, done)


def _fresh_venv(tmp_path: Path) -> tuple[Path, str]:
    """A virtual environment with activityfeed installed without extras; how it was installed."""
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if installed.returncode == 0:
        return python, "pip install from the project path"
    # Offline: the project's source on the path (as an editable install puts it) and
    # httpx's dependency closure copied from this environment.
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "activityfeed-src.pth").write_text(str(ROOT / "src") + "\n")
    _copy_distribution("httpx", site, set())
    return python, "offline: source path and httpx copied from this environment"


@pytest.mark.slow
def test_a_fresh_install_without_the_server_extra_lists_activities_from_a_running_server(
    tmp_path: Path,
) -> None:
    python, how = _fresh_venv(tmp_path)
    probe = "import importlib.util as u; print([m for m in %r if u.find_spec(m)])"
    absent = subprocess.run(
        [str(python), "-c", probe % (SERVER_MODULES,)], capture_output=True, text=True, check=True
    )
    assert absent.stdout.strip() == "[]", how

    # Without the extra, the command explains itself instead of a traceback.
    command = subprocess.run(
        [str(python), "-m", "activityfeed", "--help"], capture_output=True, text=True, check=False
    )
    assert command.returncode == 1
    assert "pip install 'activityfeed[server]'" in command.stderr
    assert "Traceback" not in command.stderr

    main_bin = Path(sys.executable).parent
    env = {**os.environ, "ACTIVITYFEED_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}"}
    env["ACTIVITYFEED_RATE_LIMIT_PER_MINUTE"] = "0"
    key = subprocess.run(
        [str(main_bin / "activityfeed"), "keys", "create", "--team", "acme"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.splitlines()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [str(main_bin / "activityfeed"), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            assert server.poll() is None, "the server exited"
            time.sleep(0.1)
        with Client(url, key) as client:
            client.bulk_upsert(
                [
                    {"id": f"call-{n}", "type": "call", "resource_type": "person", "resource_id": n}
                    for n in range(3)
                ]
            )
        script = (
            "import sys\n"
            "from activityfeed.client import Client\n"
            "with Client(sys.argv[1], sys.argv[2]) as client:\n"
            "    print(' '.join(a.id for a in client.iter_activities(sort_direction='ASC')))\n"
        )
        listed = subprocess.run(
            [str(python), "-c", script, url, key],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split() == ["call-0", "call-1", "call-2"], how
    finally:
        server.terminate()
        server.wait(timeout=30)
