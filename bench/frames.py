"""Benchmark (not a test): event-loop time of the largest client frames the socket accepts.

    .venv/bin/python bench/frames.py [--repeat 200]

Runs ``EventConsumer.receive`` — the frame checks of ``events.frames`` and the reply — on an
event loop in this process, for the worst frames within the limits (``CORE4_WS_MAX_FRAME``,
``CORE4_WS_MAX_CHANNELS``, ``CORE4_WS_MAX_CHANNEL_NAME``) and for refused ones (issue 10's
100,000 names). No database, no socket: the figure is the CPU the frame costs the event loop
between daphne handing it over and the reply being queued (target ≤ 50 ms; the design's
budget for anything on the loop is ~10 ms). Prints wall p50 / p99 / max and the thread's CPU
time p50 / max in milliseconds (on a loaded machine the wall maximum includes preemption).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))


def setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "core4site.settings"
    import django

    django.setup()


def frames() -> dict[str, str]:
    from django.conf import settings

    limit = settings.CORE4_WS_MAX_FRAME
    count, length = settings.CORE4_WS_MAX_CHANNELS, settings.CORE4_WS_MAX_CHANNEL_NAME
    distinct = [f"{i:04d}".ljust(length, "n") for i in range(count)]

    def fill(names: list, filler) -> str:
        """An interest frame of ``names`` padded with ``filler`` items up to the size limit."""
        head = json.dumps({"type": "interest", "data": names})
        item = json.dumps(filler) + ", "
        room = (limit - len(head) - 2) // len(item)
        frame = json.dumps({"type": "interest", "data": names + [filler] * room})
        while len(frame.encode()) > limit:
            room -= 1
            frame = json.dumps({"type": "interest", "data": names + [filler] * room})
        return frame

    return {
        f"{count} names × {length} chars (no padding)": json.dumps(
            {"type": "interest", "data": distinct}
        ),
        f"{count} names × {length} chars + duplicates to the limit": fill(distinct, distinct[0]),
        "short duplicate names to the limit": fill(distinct[:1], " A "),
        "non-string items to the limit": fill(distinct[:1], 0),
        f"upper-case non-ASCII names, {count} × {length}": json.dumps(
            {"type": "interest", "data": [("Ä" * length)[:-4] + f"{i:04d}" for i in range(count)]},
            ensure_ascii=False,
        ),
        "refused: 100,000 names (issue 10)": json.dumps(
            {"type": "interest", "data": [f"ch-{i}" for i in range(100_000)]},
            separators=(",", ":"),
        ),
        f"refused: {count + 1} names": json.dumps(
            {"type": "interest", "data": distinct + ["one-more"]}
        ),
    }


async def measure(frame: str, repeat: int) -> tuple[list[float], list[float], str]:
    from events.consumers import EventConsumer

    consumer = EventConsumer()
    consumer.hub = object()  # joined (interest without ``since`` never touches the hub)
    replies: list[str] = []

    async def send(text_data=None, bytes_data=None, close=False):
        replies.append(text_data)

    consumer.send = send
    wall, cpu = [], []
    for _ in range(repeat):
        replies.clear()
        started, started_cpu = time.perf_counter(), time.thread_time()
        await consumer.receive(text_data=frame)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return wall, cpu, json.loads(replies[-1])["type"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    setup()
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'':76} {'wall time, ms':^23}   {'CPU time, ms':^15}")
    print(
        f"{'frame':50} {'bytes':>8} {'reply':>9}    {'p50':>7} {'p99':>7} {'max':>7}"
        f"   {'p50':>7} {'max':>7}"
    )
    for name, frame in frames().items():
        wall, cpu, reply = asyncio.run(measure(frame, args.repeat))
        wall.sort()
        p99 = wall[min(len(wall) - 1, int(len(wall) * 0.99))]
        print(
            f"{name:50} {len(frame.encode()):>8} {reply:>9}    "
            f"{statistics.median(wall):7.2f} {p99:7.2f} {wall[-1]:7.2f}"
            f"   {statistics.median(cpu):7.2f} {max(cpu):7.2f}"
        )


if __name__ == "__main__":
    main()
