"""The benchmark harness: one command, every scenario, both stores, the floor and Datasette.

    python3 bench/run.py                 # the full run (1,000,000 activities), ~30 minutes
    python3 bench/run.py --smoke         # a tiny run that only checks the harness works

It builds the deterministic demo store (cached under bench/results/), copies it
to PostgreSQL, starts each server in turn with the same worker count, replays
S1-S9 at each concurrency with wrk (a Python generator when wrk is missing),
and writes docs/benchmarks.md's harness section, a PNG chart and a JSON record.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

import loadgen
import report
import scenarios
import servers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"


def cli(*args: str) -> str:
    """Run the activityfeed CLI; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "activityfeed", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"activityfeed {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def demo_total(largest: int, teams: int = 4) -> int:
    """How many demo activities in all give the largest team ``largest`` of them."""
    from activityfeed.demo.world import team_shares

    total = largest
    while team_shares(total, teams)[0] < largest:
        total += max(1, (largest - team_shares(total, teams)[0]) // 2)
    return total


def build_sqlite(work: Path, activities: int) -> Path:
    """The demo store with ``activities`` in its largest team, built once and cached."""
    db = work / f"demo-{activities}.db"
    marker = db.with_suffix(".done")
    if not marker.exists():
        for stale in work.glob(f"demo-{activities}.db*"):
            stale.unlink()
        total = demo_total(activities)
        print(
            f"building the demo store ({total:,} activities, {activities:,} in the largest team)",
            flush=True,
        )
        cli("demo", "--database-url", f"sqlite:///{db}", "--activities", str(total))
        marker.write_text("ok")
    return db


def copy_of(db: Path) -> Path:
    """A copy of a closed SQLite store, next to it."""
    target = db.with_name(db.stem + "-writes.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
        if Path(f"{db}{suffix}").exists():
            shutil.copyfile(f"{db}{suffix}", f"{target}{suffix}")
    return target


def build_postgres(db: Path, url: str) -> str:
    """A fresh PostgreSQL database holding a copy of ``db``; its URL."""
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    print(f"copying the store to PostgreSQL ({name})", flush=True)
    cli("copy", "--from", f"sqlite:///{db}", "--to", url)
    return url


def datasette_executable(smoke: bool) -> Path | None:
    """Datasette in its own virtual environment (it is not a dependency of the project)."""
    env = RESULTS / "datasette-venv"
    exe = env / "bin" / "datasette"
    if not exe.exists():
        print("installing Datasette into bench/results/datasette-venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(env)
        done = subprocess.run(
            [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", "datasette"],
            check=False,
        )
        if done.returncode != 0:
            return None
    return exe


def fetch(url: str, key: str | None = None) -> bytes:
    """One GET, for warming up and for the floor's body."""
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=60) as reply:
        return bytes(reply.read())


def measure(
    target: str,
    server: servers.Server,
    loads: list[tuple[scenarios.Scenario, loadgen.Load]],
    concurrencies: list[int],
    seconds: float,
    runs: int,
) -> list[report.Row]:
    """Median figures of every load at every concurrency on one running server."""
    rows = []
    for scenario, load in loads:
        if load.method == "GET":
            urllib.request.urlopen(
                urllib.request.Request(load.url, headers=load.headers), timeout=120
            ).read()
        for concurrency in concurrencies:
            results = [loadgen.run(load, concurrency, seconds) for _ in range(runs)]
            rows.append(
                report.Row(
                    target,
                    scenario.key,
                    scenario.title,
                    concurrency,
                    statistics.median(r.rps for r in results),
                    statistics.median(r.p50_ms for r in results),
                    statistics.median(r.p99_ms for r in results),
                    server.peak_rss_mib(),
                    sum(r.errors for r in results),
                    results[0].tool,
                    runs,
                )
            )
            print(
                f"  {target:9} {scenario.key} c={concurrency:<3} {rows[-1].rps:>10,.0f} req/s "
                f"p50 {rows[-1].p50_ms:.2f} ms p99 {rows[-1].p99_ms:.2f} ms "
                f"errors {rows[-1].errors}",
                flush=True,
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--runs", type=int, default=3, help="measurements per figure (median)")
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument(
        "--postgres-url", default="postgresql://postgres@127.0.0.1:5432/activityfeed_bench"
    )
    parser.add_argument("--no-datasette", action="store_true")
    parser.add_argument(
        "--no-uncached", action="store_true", help="skip the SQLite pass with the caches off"
    )
    parser.add_argument("--scenarios", default="S1,S2,S3,S4,S5,S6,S7,S8,S9")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny and quick; writes nothing to docs/"
    )
    parser.add_argument("--output", type=Path, default=None, help="results directory")
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        help="write docs/benchmarks.md from a results.json of an earlier run, measuring nothing",
    )
    parser.add_argument("--command", default=None, help="with --render: the command that ran")
    args = parser.parse_args(argv)
    if args.render is not None:
        saved = [report.Row(**r) for r in json.loads(args.render.read_text())]
        date = dt.date.fromtimestamp(args.render.stat().st_mtime).isoformat()
        section = report.markdown(saved, args.command or "python3 bench/run.py", date, [])
        report.write_section(DOCS / "benchmarks.md", section)
        report.chart(saved, DOCS / "bench-throughput.png", 16)
        print(section)
        return 0
    if args.smoke:
        args.activities, args.seconds, args.runs = min(args.activities, 3000), 1.0, 1
        args.concurrency = "2"
    out = args.output or (RESULTS / ("smoke" if args.smoke else "full"))
    out.mkdir(parents=True, exist_ok=True)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    wanted = set(args.scenarios.split(","))

    db = build_sqlite(RESULTS if not args.smoke else out, args.activities)
    data = scenarios.describe(db)
    chosen = [s for s in scenarios.scenarios(data) if s.key in wanted]
    # (target, database URL, extra environment, scenarios)
    passes: list[tuple[str, str, dict[str, str], list[scenarios.Scenario]]] = []
    reads = [s for s in chosen if s.is_list]
    writes = [s for s in chosen if not s.is_list]
    if "sqlite" in args.stores.split(","):
        passes.append(("sqlite", f"sqlite:///{db}", {}, reads))
        if not args.no_uncached:
            # The same reads with the exact caches off: every request does the work.
            passes.append(
                ("sqlite-nocache", f"sqlite:///{db}", {"ACTIVITYFEED_CACHE_ENTRIES": "0"}, reads)
            )
        if writes:
            # Writes go to a copy, so that every pass reads the data set as it was built.
            passes.append(("sqlite", f"sqlite:///{copy_of(db)}", {}, writes))
    if "postgres" in args.stores.split(","):
        passes.append(("postgres", build_postgres(db, args.postgres_url), {}, chosen))
    rows: list[report.Row] = []
    notes: list[str] = [
        f"Data: the demo store, largest team `{data.team_name}` with {data.activities:,} activities.",
    ]
    s1_body = b""
    for target, url, env, wanted_here in passes:
        key = (
            cli("keys", "create", "--database-url", url, "--team", data.team_name)
            .strip()
            .splitlines()[-1]
        )
        server = servers.activityfeed(
            url, servers.free_port(), args.workers, out / f"{target}.log", env
        )
        # Writes run last: reads see the data set as it was built.
        loads = [(s, s.load(server.url, key)) for s in wanted_here]
        print(f"measuring activityfeed on {target}", flush=True)
        server.start()
        try:
            s1_body = s1_body or fetch(server.url + scenarios.LIST, key)
            rows += measure(target, server, loads, concurrencies, args.seconds, args.runs)
        finally:
            server.stop()
    if s1_body:
        body_file = out / "floor-body.json"
        body_file.write_bytes(s1_body)
        server = servers.floor(body_file, servers.free_port(), args.workers, out / "floor.log")
        print("measuring the floor", flush=True)
        server.start()
        try:
            floor_load = scenarios.Scenario("S1", "fixed body of S1's size", "GET", scenarios.LIST)
            rows += measure(
                "floor",
                server,
                [(floor_load, floor_load.load(server.url, "x"))],
                concurrencies,
                args.seconds,
                args.runs,
            )
        finally:
            server.stop()
    if not args.no_datasette and (exe := datasette_executable(args.smoke)) is not None:
        table, sql = [], []
        for s in chosen:
            if s.datasette_sql:
                sql.append((s, scenarios.datasette_path(db.stem, s.datasette_sql)))
            if s.datasette_table is not None:
                table.append((s, scenarios.datasette_table_path(db.stem, s.datasette_table)))
        # A fresh server for each way: Datasette goes on running the slow counts of
        # requests the load generator has given up on, which would slow the next pass.
        for target, paths in (("datasette-sql", sql), ("datasette", table)):
            server = servers.datasette(exe, db, servers.free_port(), out / f"{target}.log")
            print(f"measuring {target}", flush=True)
            server.start()
            try:
                loads = [(s, loadgen.Load("GET", server.url + path, {})) for s, path in paths]
                rows += measure(target, server, loads, concurrencies, args.seconds, args.runs)
            finally:
                server.stop()
        notes.append(
            "Datasette serves the same file in immutable mode, measured two ways: `datasette`, "
            "its table API as a team gets it out of the box (`/db/activities.json?team_id=...` "
            "with its filters and `_sort`; like every Datasette table page it counts the "
            "matches, as in the issue's own Datasette figures; S6 has no table form, page 400 "
            "needs an offset, so its basis is the SQL below), the basis of the `/ Datasette` "
            "column; and `datasette-sql`, hand-written SQL per scenario through `?sql=` (no "
            "count: the best Datasette can do, with the same indexes). Datasette has no write "
            "path (S8, S9)."
        )

    command = "python3 bench/run.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    date = dt.date.today().isoformat()
    (out / "results.json").write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
    section = report.markdown(rows, command.strip(), date, notes)
    if args.smoke:
        (out / "benchmarks.md").write_text(section)
        report.chart(rows, out / "bench-throughput.png", concurrencies[-1])
    else:
        report.write_section(DOCS / "benchmarks.md", section)
        report.chart(rows, DOCS / "bench-throughput.png", concurrencies[-1])
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
