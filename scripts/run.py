"""Run the service on the embedded SQLite store, with demo data.

    python3 scripts/run.py [demo options...]

Installs what it needs into .venv/, loads the deterministic demo data set
(a second run reuses it) and serves it on http://127.0.0.1:8000, printing a key.
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
