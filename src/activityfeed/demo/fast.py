"""The demo's fast load into a fresh SQLite store, on two cores.

Making a row (generating the activity, rendering its stored document and its
references) costs about as much CPU as SQLite's writing it. So a child process
runs the generator (:func:`activityfeed.demo.stream.activity_stream`) and the
bulk upsert's own row building (:func:`activityfeed.storage.writes.new_rows`),
with the ``seq`` and clock the store gives it, while this process writes the
batches it has already made through a
:class:`~activityfeed.storage.sqlite.bulk.FreshLoad`. Batches arrive in order,
so the store ends exactly as a load through the bulk upsert would leave it.

The child is started with ``spawn``: it imports only what it needs and shares
no threads or connections with this process. The child, its plans
(:func:`plan_teams`) and the reading of a team's batches (:class:`TeamRows`)
serve the PostgreSQL fast load too (:mod:`activityfeed.demo.fast_postgres`).
"""

from __future__ import annotations

import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

from activityfeed.demo.stream import References, activity_stream
from activityfeed.demo.world import World, build_world
from activityfeed.storage import writes
from activityfeed.storage.sqlite.bulk import FreshLoad

# Batches made ahead of the writer: enough to keep both cores busy, and a bound
# on memory (a batch of 10,000 rows is a few MB).
AHEAD = 6
_LENGTH = struct.Struct("<Q")


@dataclass(frozen=True)
class TeamPlan:
    """What the child needs to make one team's rows as the bulk upsert would."""

    index: int
    team_id: int
    activities: int
    seq: int
    clock: int
    now: int


@dataclass(frozen=True)
class TeamLoaded:
    """One team's load: the references its activities made, and how many were created."""

    references: References
    created: int


class ProducerFailed(RuntimeError):
    """The child process making the rows failed or died."""


def produce(out: BinaryIO, seed: int, batch_size: int, plans: Sequence[TeamPlan]) -> None:
    """In the child: each team's rows, in order, as framed messages on ``out``.

    A team's batches come as ``("rows", count, flat rows, counts deltas)``
    and end with ``("team", reference counts, last clock)``. A thread writes
    the frames, so that making rows goes on while the parent is busy and the
    pipe is full; at most :data:`AHEAD` frames wait.
    """
    frames: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)
    writer = threading.Thread(target=_write_frames, args=(frames, out), daemon=True)
    writer.start()
    for plan in plans:
        world = build_world(seed, plan.index, plan.activities)
        references = References()
        clock = writes.Clock(plan.clock, plan.now)
        seq = plan.seq
        for batch in activity_stream(world, seed, references, batch_size):
            rows, deltas = writes.new_rows(plan.team_id, seq, clock, batch)
            seq += len(rows)
            frames.put(_frame(("rows", len(rows), list(chain.from_iterable(rows)), deltas)))
        frames.put(_frame(("team", references.counts, clock.value)))
    frames.put(None)
    writer.join()


def _frame(message: tuple[Any, ...]) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


def _write_frames(frames: queue.Queue[bytes | None], out: BinaryIO) -> None:
    while (frame := frames.get()) is not None:
        out.write(frame)
    out.flush()


def child_main() -> None:
    """The child's entry point: the job on stdin, the frames on stdout."""
    seed, batch_size, plans = pickle.load(sys.stdin.buffer)  # noqa: S301 (our own parent)
    produce(sys.stdout.buffer, seed, batch_size, plans)


def plan_teams(
    worlds: Sequence[World],
    team_ids: Sequence[int],
    next_seq: int,
    clocks: Sequence[writes.Clock],
) -> list[TeamPlan]:
    """Each team's plan: consecutive ``seq`` ranges from ``next_seq``, its clock from the store."""
    plans = []
    seq = next_seq
    for world, team_id, clock in zip(worlds, team_ids, clocks, strict=True):
        plans.append(TeamPlan(world.index, team_id, world.activities, seq, clock.value, clock.now))
        seq += world.activities
    return plans


class TeamRows:
    """One team's batches as the row process sends them, and what they add up to.

    Both fast loads read a team with :meth:`batches`, and take its
    :attr:`clock`, :attr:`deltas` and :attr:`created` to finish it.
    """

    def __init__(self, plan: TeamPlan, advance: Callable[[int, int], None]) -> None:
        self.plan = plan
        self.advance = advance
        self.created = 0
        self.deltas: dict[tuple[str, str], int] = {}
        self.counts: dict[str, int] = {}
        self.clock = 0

    def batches(self, read: Callable[[], tuple[Any, ...]]) -> Iterator[list[Any]]:
        """The team's batches of flattened rows, read with ``read`` up to its closing message.

        A batch is counted (``advance(count, team index)``) when the next is
        asked for: once the caller has written it.
        """
        while (message := read())[0] == "rows":
            _, count, flat, deltas = message
            yield flat
            self.created += count
            for key, n in deltas.items():
                self.deltas[key] = self.deltas.get(key, 0) + n
            self.advance(count, self.plan.index)
        _, self.counts, self.clock = message

    def loaded(self) -> TeamLoaded:
        """The team's load, once :meth:`batches` has ended."""
        return TeamLoaded(References(self.counts), self.created)


def load_fresh(
    load: FreshLoad,
    seed: int,
    plans: Sequence[TeamPlan],
    batch_size: int,
    advance: Callable[[int, int], None],
) -> list[TeamLoaded]:
    """Write every team's rows, made by a child process; ``advance(count, team index)``."""
    loaded: list[TeamLoaded] = []
    with producer(seed, batch_size, plans) as child:
        for plan in plans:
            team = TeamRows(plan, advance)
            for flat in team.batches(partial(read_frame, child)):
                load.insert(flat)
            load.finish_team(plan.team_id, team.clock, team.deltas)
            loaded.append(team.loaded())
    return loaded


@contextmanager
def producer(
    seed: int, batch_size: int, plans: Sequence[TeamPlan]
) -> Iterator[subprocess.Popen[bytes]]:
    """The child process making the rows of ``plans``; read its messages with :func:`read_frame`.

    The block must read every message; the child is waited for (and a failure
    raised as :class:`ProducerFailed`) when it ends, killed when it raises.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", "from activityfeed.demo.fast import child_main; child_main()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_env(),
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(pickle.dumps((seed, batch_size, list(plans))))
        child.stdin.close()
        yield child
        if child.wait() != 0:
            raise ProducerFailed(_failure(child))
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        if child.stderr is not None:
            child.stderr.close()


def _child_env() -> dict[str, str]:
    """This environment, with this copy of the package first on the child's path."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def read_frame(child: subprocess.Popen[bytes]) -> tuple[Any, ...]:
    """The child's next message; :class:`ProducerFailed` when it ended early."""
    assert child.stdout is not None
    head = child.stdout.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        child.wait()
        raise ProducerFailed(_failure(child))
    (length,) = _LENGTH.unpack(head)
    payload = child.stdout.read(length)
    if len(payload) < length:
        child.wait()
        raise ProducerFailed(_failure(child))
    message: tuple[Any, ...] = pickle.loads(payload)  # noqa: S301 (our own child)
    return message


def _failure(child: subprocess.Popen[bytes]) -> str:
    error = child.stderr.read().decode(errors="replace").strip() if child.stderr else ""
    return f"the demo's row process ended with code {child.returncode}: {error or 'no output'}"
