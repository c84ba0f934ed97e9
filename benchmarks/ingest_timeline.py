"""Second by second through the growth benchmark's load: how the embedded server's stalls look.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ingest_timeline.py [--messages 20000] [--concurrency 16]

The same hub, bot and customers as `benchmarks/ingest_growth.py` (16 lanes of customers, every 1,000
messages the backlog drained), on a fresh secantusd-py server. Once a second, one JSON line:
`sent` (customer messages handed to `Hub.ingest` that second), `db_cpu` and `hub_cpu` (seconds of CPU each process
used that second: the server runs commands one at a time, so below ~1.0 with work waiting means it was
held up, not busy), `db_written_mb` (the server's bytes written, /proc/PID/io), `io_pressure_ms` (how
long some task on the machine waited for I/O that second, /proc/pressure/io), `fsync_ms` (one fsync of
a small file beside the database), `in_processing` (messages stored but not yet answered) and `checkpoint`
(WiredTiger finished a checkpoint that second: its `WiredTiger.turtle` was rewritten; the server runs one every
`SECANTUS_CHECKPOINT_SECONDS`, default 60).

A stall (docs/performance.md, "No slowdown as data grows") shows as a stretch of seconds with `db_cpu`
well below 1.0 while `in_processing` stays up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.ingest_growth import BLOCK, Lanes
from benchmarks.raw_writes import process_cpu_seconds
from bot.service import build_bot
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import load_settings
from switchboard.embedded import EmbeddedServer


def bytes_written(pid: int) -> int | None:
    """What the process has written to storage so far (None where /proc has no io file)."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def io_pressure_us() -> int | None:
    """Microseconds some task has waited for I/O since boot (Linux pressure stall information)."""
    try:
        return int(Path("/proc/pressure/io").read_text().splitlines()[0].rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


def fsync_ms(path: Path) -> float:
    """One small append made durable: the disk's latency at this moment."""
    started = time.perf_counter()
    with path.open("ab") as f:
        f.write(b"x" * 512)
        f.flush()
        os.fsync(f.fileno())
    return round((time.perf_counter() - started) * 1000, 2)


def modified_ns(path: Path) -> int | None:
    """When the file was last written (None while it does not exist)."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _delta(now: float | None, before: float | None, scale: float = 1.0, digits: int = 2) -> float | None:
    return None if now is None or before is None else round((now - before) * scale, digits)


async def run(messages: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        uri = await server.start()
        assert server.process is not None
        pid = server.process.pid
        settings = load_settings(mongodb_uri=uri, data_dir=Path(tmp) / "hub", secret="bench")
        settings.metrics_aggregate_seconds = 0  # as in ingest_growth: the history's batch job is not the message path
        runtime = Runtime(settings)
        await runtime.start(bot=await build_bot(bot_dir(settings)))
        hub = runtime.hub
        assert hub is not None
        lanes = Lanes(concurrency, "timeline")
        done = asyncio.Event()

        turtle = server.storage / "WiredTiger.turtle"  # rewritten by every checkpoint

        def readings() -> tuple[int, float | None, float, int | None, int | None, int | None]:
            return (sum(lanes.sent), process_cpu_seconds(pid), time.process_time(), bytes_written(pid),
                    io_pressure_us(), modified_ns(turtle))

        async def sample() -> None:
            started, last = time.perf_counter(), readings()
            while not done.is_set():
                await asyncio.sleep(1)
                now = readings()
                print(json.dumps({"t": round(time.perf_counter() - started), "sent": now[0] - last[0],
                                  "db_cpu": _delta(now[1], last[1]), "hub_cpu": _delta(now[2], last[2]),
                                  "db_written_mb": _delta(now[3], last[3], 1e-6, 1),
                                  "io_pressure_ms": _delta(now[4], last[4], 1e-3, 0),
                                  "fsync_ms": await asyncio.to_thread(fsync_ms, Path(tmp) / "fsync-probe"),
                                  "in_processing": hub.pipeline.in_flight,
                                  "checkpoint": now[5] != last[5]}), flush=True)
                last = now

        sampler = asyncio.create_task(sample())
        try:
            for _ in range(messages // BLOCK):
                await lanes.block(hub, BLOCK)
        finally:
            done.set()
            await sampler
            await runtime.stop()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.concurrency))


if __name__ == "__main__":
    main()
