"""Writing the harness's results: Markdown tables, a PNG chart, a JSON record."""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path

START = "<!-- harness:start -->"
END = "<!-- harness:end -->"
LISTS = frozenset({"S1", "S2", "S3", "S4", "S5", "S6", "S7"})


@dataclass(frozen=True)
class Row:
    """One line of a result table (medians over the runs)."""

    target: str  # "sqlite", "postgres", "floor", "datasette"
    scenario: str
    title: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    rss_mib: float
    errors: int
    tool: str
    runs: int


def machine() -> str:
    """CPU model, core count, Python and OS, from this machine."""
    model = "unknown CPU"
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.+)", text)
        if found:
            model = found.group(1).strip()
    except OSError:
        pass
    import os

    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{platform.system()} {platform.release()}"
    )


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}" if reference else "n/a"


def markdown(rows: list[Row], command: str, date: str, notes: list[str]) -> str:
    """The harness section of docs/benchmarks.md."""
    floor = {r.concurrency: r.rps for r in rows if r.target == "floor"}
    datasette = {(r.scenario, r.concurrency): r.rps for r in rows if r.target == "datasette"}
    # S6 has no table-API form: its basis is the SQL figure.
    for r in rows:
        if r.target == "datasette-sql" and (r.scenario, r.concurrency) not in datasette:
            datasette[(r.scenario, r.concurrency)] = r.rps
    s1 = {(r.target, r.concurrency): r.rps for r in rows if r.scenario == "S1"}
    lines = [
        START,
        "## Side by side: scenarios S1-S9, the floor and Datasette",
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine()}",
        f"- Date: {date}",
        "- Each figure is the median of the runs shown; ratios are taken within this one run.",
        "- `floor`: Starlette + uvicorn (same worker count) serving a fixed body of S1's size.",
        "",
    ]
    targets = [
        t for t in ("sqlite", "sqlite-nocache", "postgres") if any(r.target == t for r in rows)
    ]
    titles = {
        "sqlite": "SQLite",
        "sqlite-nocache": "SQLite, exact caches off (`ACTIVITYFEED_CACHE_ENTRIES=0`)",
        "postgres": "PostgreSQL",
    }
    for target in targets:
        lines += [
            f"### activityfeed on {titles[target]}",
            "",
            "| scenario | c | req/s | p50 ms | p99 ms | / floor | / S1 | / Datasette | peak RSS MiB | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            if r.target != target:
                continue
            ds = datasette.get((r.scenario, r.concurrency))
            lines.append(
                f"| {r.scenario} {r.title} | {r.concurrency} | {r.rps:,.0f} | {r.p50_ms:.2f} | "
                f"{r.p99_ms:.2f} | {_ratio(r.rps, floor.get(r.concurrency)) if r.scenario in LISTS else 'n/a'} | "
                f"{_ratio(r.rps, s1.get((target, r.concurrency)))} | "
                f"{_ratio(r.rps, ds) if ds else 'n/a'} | {r.rss_mib:,.0f} | {r.errors} |"
            )
        lines.append("")
    others = [r for r in rows if r.target in ("floor", "datasette", "datasette-sql")]
    if others:
        lines += [
            "### The floor and Datasette (`datasette`: table API; `datasette-sql`: hand-written SQL)",
            "",
            "| target | scenario | c | req/s | p50 ms | p99 ms | peak RSS MiB | errors |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in others:
            lines.append(
                f"| {r.target} | {r.scenario} {r.title} | {r.concurrency} | {r.rps:,.0f} | "
                f"{r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.rss_mib:,.0f} | {r.errors} |"
            )
        lines.append("")
    if any(r.target == "floor" for r in rows):
        lines += ["### The issue's targets on this run", "", *target_checks(rows), ""]
    tools = sorted({r.tool for r in rows})
    lines.append(f"Load generator: {', '.join(tools)}.")
    lines += [f"- {note}" for note in notes]
    lines += ["", "![throughput per scenario against the floor](bench-throughput.png)", "", END]
    return "\n".join(lines) + "\n"


def target_checks(rows: list[Row]) -> list[str]:
    """The issue's targets, each checked per store and concurrency on this run's figures."""
    rps = {(r.target, r.scenario, r.concurrency): r.rps for r in rows}
    floor = {r.concurrency: r.rps for r in rows if r.target == "floor"}
    basis = {}
    for r in rows:
        if r.target in ("datasette", "datasette-sql"):
            basis.setdefault((r.scenario, r.concurrency), r.rps)
    for r in rows:  # the table API is the basis where it exists
        if r.target == "datasette":
            basis[(r.scenario, r.concurrency)] = r.rps
    lines = [
        "| target | store | c | figure | met |",
        "|---|---|---:|---|---|",
    ]
    stores = [
        t for t in ("sqlite", "sqlite-nocache", "postgres") if any(r.target == t for r in rows)
    ]
    for store in stores:
        for c in sorted(floor):
            s1 = rps.get((store, "S1", c))
            if s1 is None:
                continue
            checks = [("S1 >= 0.40 of the floor", s1 / floor[c], 0.40)]
            lists = [k for k in sorted(LISTS) if (store, k, c) in rps]
            worst = min(lists, key=lambda k: rps[(store, k, c)])
            checks.append(
                (
                    f"every list scenario >= 0.25 of the floor (lowest: {worst})",
                    rps[(store, worst, c)] / floor[c],
                    0.25,
                )
            )
            if (store, "S6", c) in rps:
                checks.append(("S6 >= 0.5 of S1", rps[(store, "S6", c)] / s1, 0.5))
            if (store, "S5", c) in rps:
                checks.append(("S5 >= 0.2 of S1", rps[(store, "S5", c)] / s1, 0.2))
            ratios = {k: rps[(store, k, c)] / basis[(k, c)] for k in lists if basis.get((k, c))}
            if ratios:
                low = min(ratios, key=lambda k: ratios[k])
                checks.append(
                    (f"every scenario >= 20x Datasette (lowest: {low})", ratios[low], 20.0)
                )
            for name, value, bound in checks:
                lines.append(
                    f"| {name} | {store} | {c} | {value:.2f} | {'yes' if value >= bound else '**no**'} |"
                )
    return lines


def write_section(doc: Path, section: str) -> None:
    """Put ``section`` into ``doc``, replacing an earlier harness section."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text)


def chart(rows: list[Row], path: Path, concurrency: int) -> bool:
    """A bar chart of req/s per scenario and store against the floor; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    chosen = [r for r in rows if r.concurrency == concurrency]
    scenarios = sorted({r.scenario for r in chosen if r.target in ("sqlite", "postgres")})
    targets = [
        t
        for t in ("sqlite", "sqlite-nocache", "postgres", "datasette")
        if any(r.target == t for r in chosen)
    ]
    floor = next((r.rps for r in chosen if r.target == "floor"), None)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(1, len(targets))
    for i, target in enumerate(targets):
        values = {r.scenario: r.rps for r in chosen if r.target == target}
        xs = [j + i * width for j in range(len(scenarios))]
        ax.bar(xs, [values.get(s, 0) for s in scenarios], width, label=target)
    if floor:
        ax.axhline(floor, color="black", linestyle="--", label=f"floor ({floor:,.0f} req/s)")
    ax.set_xticks([j + width * (len(targets) - 1) / 2 for j in range(len(scenarios))], scenarios)
    ax.set_ylabel("requests/s")
    ax.set_yscale("log")
    ax.set_title(f"Throughput per scenario, concurrency {concurrency}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
