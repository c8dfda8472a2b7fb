"""The shell examples of README.md and docs/*.md run, as written, against the default demo.

The ``curl`` blocks of a file (and its blocks that set ``KEY`` or ``BASE``) run in
one bash script, in the order of the file, with only ``PATH`` set, in the folder
of a store holding the demo that ``python3 scripts/run.py`` loads (its defaults,
so the ids the docs name are the demo's), against a live server on that store.
The placeholder key ``ak_...`` becomes the demo's, ``http://127.0.0.1:8000`` the
live server's address. Each ``curl`` must succeed: a URL curl cannot parse, an id
the demo lacks or a filter that matches nothing fails the test. Every
``activityfeed`` line must parse as the command line would parse it, and every
``pip install`` installs the checkout (the package is not published).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from activityfeed.cli.main import main
from activityfeed.settings import Settings
from support.sdk_support import LiveServer, live_server

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTED_URL = "http://127.0.0.1:8000"
PLACEHOLDER_KEY = "ak_..."
# Every curl fails on an HTTP error (an id the demo lacks) and on an empty page
# (a filter on a resource the demo lacks); a URL curl cannot parse (brackets
# without -g) is curl's own error, exit 3.
PRELUDE = """set -euo pipefail
curl() {
    local out
    out=$(command curl -sS --fail-with-body "$@") || { echo "$out" >&2; return 1; }
    case "$out" in *'"data":[]'*) echo "an empty page: curl $*" >&2; return 1 ;; esac
}
"""


def shell_blocks(path: Path) -> list[str]:
    """The bodies of the ```sh blocks of ``path``, in order."""
    return re.findall(r"```sh\n(.*?)```", path.read_text(), re.DOTALL)


def is_setting(block: str) -> bool:
    """Whether ``block`` only sets shell variables (``KEY=ak_...``) and comments."""
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    return all(re.match(r"[A-Z_]+=\S", line) for line in lines)


def service_script(path: Path) -> str:
    """The blocks of ``path`` that call the service (with curl) or set its variables, in order."""
    return "\n".join(
        block
        for block in shell_blocks(path)
        if re.search(r"^\s*curl ", block, re.M) or is_setting(block)
    )


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path]]:
    """A live server on the default demo, loaded by ``activityfeed demo`` as scripts/run.py does.

    Yields the server and the directory of its store (where the demo keeps its key).
    """
    folder = tmp_path_factory.mktemp("docs")
    url = f"sqlite:///{folder / 'activityfeed.db'}"
    result = CliRunner().invoke(main, ["demo", "--database-url", url])
    assert result.exit_code == 0, result.output
    with live_server(Settings(database_url=url, rate_limit_per_minute=0)) as server:
        yield server, folder


def demo_key(folder: Path) -> str:
    """The key the demo printed and kept beside its store."""
    return (folder / "activityfeed.db.demo-key").read_text().strip()


def run_script(script: str, server: LiveServer, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in bash in ``folder``, only ``PATH`` set: the docs set what they use."""
    script = script.replace(DOCUMENTED_URL, server.url).replace(PLACEHOLDER_KEY, demo_key(folder))
    return subprocess.run(
        ["bash", "-c", PRELUDE + script],
        cwd=folder,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", ["README.md", "docs/api.md", "docs/dynamic-data.md"])
def test_every_curl_example_succeeds_against_the_default_demo(
    demo_server: tuple[LiveServer, Path], name: str
) -> None:
    server, folder = demo_server
    script = service_script(ROOT / name)
    assert "curl " in script, f"no curl examples in {name}"
    result = run_script(script, server, folder)
    assert result.returncode == 0, f"{name}:\n{script}\n{result.stderr}"


def command_lines(path: Path) -> list[list[str]]:
    """The ``activityfeed`` lines of the ```sh blocks of ``path``, split as a shell would."""
    lines = []
    for block in shell_blocks(path):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and Path(words[0]).name == "activityfeed":
                lines.append(words[1:])
    return lines


def parse(args: list[str]) -> None:
    """Parse ``args`` as ``activityfeed`` would, down to the last subcommand, running nothing.

    The lines of the docs name their subcommands first (``keys create --team acme``).
    """
    command: click.Command = main
    context = click.Context(main, info_name="activityfeed")
    while isinstance(command, click.Group):
        assert args, f"{context.command_path}: no subcommand"
        sub = command.get_command(context, args[0])
        assert sub is not None, f"{context.command_path}: no command {args[0]}"
        command, args = sub, args[1:]
        context = click.Context(command, info_name=sub.name, parent=context)
    command.make_context(command.name, args, parent=context.parent)


def test_every_activityfeed_line_of_the_readme_parses() -> None:
    lines = command_lines(ROOT / "README.md")
    assert len(lines) >= 4
    for args in lines:
        parse(args)


def test_every_pip_install_of_the_docs_installs_the_checkout() -> None:
    installs = []
    for name in ("README.md", "docs/sdk.md"):
        text = (ROOT / name).read_text()
        for block in shell_blocks(ROOT / name):
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                if words[:2] == ["pip", "install"]:
                    installs.append(words[2:])
        installs += [shlex.split(args) for args in re.findall(r"`pip install ([^`]*)`", text)]
    assert installs
    for args in installs:
        targets = [arg for arg in args if not arg.startswith("-")]
        assert targets, args
        assert all(target.startswith(".") for target in targets), args


def readme_sdk_example() -> str:
    """The Python block under the README's ``## Python SDK`` heading."""
    section = (ROOT / "README.md").read_text().split("\n## Python SDK\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)
    assert match is not None, "no python block under ## Python SDK"
    return match.group(1)


def test_the_readme_sdk_example_prints_a_few_lines_against_the_demo(
    demo_server: tuple[LiveServer, Path],
) -> None:
    server, folder = demo_server
    env = {
        **os.environ,
        "ACTIVITYFEED_BASE_URL": server.url,
        "ACTIVITYFEED_API_KEY": demo_key(folder),
    }
    result = subprocess.run(
        [sys.executable, "-c", readme_sdk_example()],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("created call-")
    assert len([line for line in lines if line.startswith("call-")]) == 5
    assert len([line for line in lines if line.startswith("changed ")]) == 5
    assert lines[-1].startswith("next time: client.sync(since='")
    assert len(lines) == 12
