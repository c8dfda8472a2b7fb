"""Run the service on the embedded SQLite store, with demo data.

    python3 scripts/run.py [demo options...]

Installs what it needs into .venv/, loads the deterministic demo data set
and serves it on http://127.0.0.1:8000, printing a key (kept in
activityfeed.db.demo-key). A second run on an unchanged store loads nothing
and prints the same key.
"""

from __future__ import annotations

import os
import sys

from bootstrap import ROOT, ensure

if __name__ == "__main__":
    python = ensure("server")
    os.chdir(ROOT)
    args = [str(python), "-m", "activityfeed", "demo", "--serve", *sys.argv[1:]]
    os.execv(args[0], args)
