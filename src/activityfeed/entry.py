"""The ``activityfeed`` console script's entry point, importable without the server extra.

``pip install activityfeed`` gives the SDK only; the command line needs the
``server`` extra (click, rich, the stores). Without it the command says how
to get it instead of failing with a traceback.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec

# Importable names of the server extra's distributions that the command line needs.
SERVER_MODULES = ("click", "rich", "orjson", "starlette", "uvicorn")

MISSING_EXTRA = """\
activityfeed: the command line needs the server extra, which is not installed
(missing: {missing}).

    pip install 'activityfeed[server]'

The Python SDK works without it: from activityfeed.client import Client
"""


def missing_server_modules() -> list[str]:
    """The server extra's modules that cannot be imported here."""
    return [name for name in SERVER_MODULES if find_spec(name) is None]


def main() -> None:
    """Run the command line, or explain how to install it."""
    missing = missing_server_modules()
    if missing:
        sys.stderr.write(MISSING_EXTRA.format(missing=", ".join(missing)))
        raise SystemExit(1)
    # Imported only once the extra is known to be there (click and the rest); the
    # command line never imports this module, so no cycle hides here.
    from activityfeed.cli.main import main as cli_main

    cli_main()
