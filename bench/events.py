"""Benchmarks of the event stream (not tests): prints figures for bench/RESULTS.md.

    .venv/bin/python bench/events.py latency --sockets 100 1000   # commit → client, live jobs
    .venv/bin/python bench/events.py summary --jobs 100000         # masking / fan-out cost
    .venv/bin/python bench/events.py history --events 1000000      # history pages at scale

Each run builds a product instance of its own (``tests.support.LiveStack``: fresh database,
the Redis of ``REDIS_URL`` with its own prefix or a private embedded one; daphne and a
worker as OS processes), so ``DATABASE_URL``/``REDIS_URL`` select PostgreSQL + Redis exactly
as for the tests. Loopback traffic only; every loop is bounded.

Latency is measured from the event's ``created`` (set inside the committing transaction,
just before the insert and commit — so the figure slightly over-states commit → client) to
the arrival of its frame at each client socket. The clients run in a process of their own
(``--client-cpu N`` pins it with ``taskset``): minimal asyncio WebSocket clients, or with
``--client node`` Node's ``ws`` package (``bench/wsclient``, installed with ``npm ci`` on
first use), cheaper per socket; either shares the machine with daphne, the worker and the
database.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this file is bench/events.py: keep the ``events`` app importable, not this script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

NOOP = "jobqueue.jobs.example.NoopJob"


# --- environment ------------------------------------------------------------------------------
def open_stack(tmp: Path):
    """A fresh product instance; this process is configured to use its database and layer."""
    from tests.support import LiveStack

    stack = LiveStack(tmp)
    os.environ.update(stack.env)
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "core4site.settings"
    import django

    django.setup()
    return stack


def machine() -> str:
    import multiprocessing

    from django.db import connection

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    layer = "REDIS_URL" if os.environ.get("REDIS_URL") else "embedded redis-server (unix socket)"
    return (
        f"{multiprocessing.cpu_count()} cores {cpu}, Python {platform.python_version()}, "
        f"database {connection.vendor}, layer {layer}"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def make_user(name: str, perms: list[str]):
    from accounts.models import Role, User
    from accounts.tokens import issue_token

    user = User(name=name, email=f"{name}@example.com", perm=perms)
    user.set_unusable_password()
    user.save()
    user.roles.set(Role.objects.filter(name="standard_user"))
    return str(issue_token(user))


# --- a minimal WebSocket client (RFC 6455, enough for text frames) -----------------------------
def _client_frame(text: str | bytes, opcode: int = 0x1) -> bytes:
    payload = text.encode() if isinstance(text, str) else text
    mask = os.urandom(4)
    header = bytearray([0x80 | opcode])
    size = len(payload)
    if size < 126:
        header.append(0x80 | size)
    elif size < 65536:
        header.append(0x80 | 126)
        header += size.to_bytes(2, "big")
    else:
        header.append(0x80 | 127)
        header += size.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(header) + mask + masked


class Client(asyncio.Protocol):
    """Parses frames straight from ``data_received`` (cheap: the client shares the CPUs)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.handshaken = asyncio.get_running_loop().create_future()
        self.frames: asyncio.Queue = asyncio.Queue()
        self.arrivals: list[tuple[float, bytes]] = []
        self.recording = False
        self.transport = None

    @classmethod
    async def connect(cls, host: str, port: int, path: str) -> Client:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(cls, host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        client.transport.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n\r\n"
            ).encode()
        )
        await asyncio.wait_for(client.handshaken, 120)
        return client

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.handshaken.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.handshaken.set_exception(RuntimeError(f"refused: {head[:100]!r}"))
                return
            self.handshaken.set_result(True)
        while len(self.buffer) >= 2:
            b0, b1 = self.buffer[0], self.buffer[1]
            size, offset = b1 & 0x7F, 2
            if size == 126:
                if len(self.buffer) < 4:
                    return
                size, offset = int.from_bytes(self.buffer[2:4], "big"), 4
            elif size == 127:
                if len(self.buffer) < 10:
                    return
                size, offset = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < offset + size:
                return
            payload = bytes(self.buffer[offset : offset + size])
            del self.buffer[: offset + size]
            opcode = b0 & 0x0F
            if opcode == 0x9:
                self.transport.write(_client_frame(payload, 0xA))
            elif opcode == 0x1:
                if self.recording:
                    self.arrivals.append((now, payload))
                else:
                    self.frames.put_nowait(payload)

    def send(self, text: str) -> None:
        self.transport.write(_client_frame(text))

    async def frame(self) -> bytes:
        return await self.frames.get()

    def close(self) -> None:
        self.transport.close()


# --- latency ------------------------------------------------------------------------------------
def produce(rate: float, seconds: float) -> None:
    """Enqueue no-op jobs at ``rate`` per second on average for ``seconds`` (its own process).

    The gaps are jittered (uniform 0.5–1.5 × the mean): a producer in step with the 1 s
    summary would make the number of summary frames a client sees vary between runs."""
    import random

    import django

    django.setup()
    from jobqueue import services

    interval = 1.0 / rate
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    n = 0
    while time.monotonic() < deadline:
        services.enqueue(NOOP, n=n, run=start)
        n += 1
        time.sleep(interval * random.uniform(0.5, 1.5))


async def _clients(addresses: list[tuple[str, int]], token: str, sockets: int) -> list[Client]:
    """``sockets`` clients interested in ``queue``, spread over ``addresses`` in turn."""
    clients: list[Client] = []
    path = f"/core4/api/v1/event?token={token}"
    for offset in range(0, sockets, 50):
        batch = await asyncio.gather(
            *(
                Client.connect(*addresses[(offset + i) % len(addresses)], path)
                for i in range(min(50, sockets - offset))
            )
        )
        clients.extend(batch)
    for client in clients:
        client.send(json.dumps({"type": "interest", "data": ["queue"]}))
    for client in clients:
        payload = await asyncio.wait_for(client.frame(), 30)
        assert json.loads(payload)["type"] == "interest"
        client.recording = True
    return clients


def _measure(clients: list[Client]) -> dict:
    created_of: dict[str, float] = {}
    latencies: list[float] = []
    per_event: dict[str, list[float]] = {}
    events_seen = 0
    summaries = 0
    for client in clients:
        for arrived, payload in client.arrivals:
            frame = json.loads(payload)
            if frame.get("name") == "summary":
                summaries += 1
                continue
            events_seen += 1
            stamp = created_of.get(frame["_id"])
            if stamp is None:
                stamp = created_of[frame["_id"]] = (
                    datetime.fromisoformat(frame["created"]).replace(tzinfo=UTC).timestamp()
                )
            latencies.append((arrived - stamp) * 1000)
            per_event.setdefault(frame["_id"], []).append(latencies[-1])
    return {
        "frames": events_seen,
        "summaries": summaries,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
        # the first socket's and the last socket's arrival per event: where the time goes
        "first": percentile([min(v) for v in per_event.values()], 50),
        "spread": percentile([max(v) - min(v) for v in per_event.values()], 50),
        "slow": sorted((percentile(v, 50), name) for name, v in _names(per_event, clients).items())[
            -3:
        ],
    }


def run_clients(args) -> None:
    """(internal) The load client process: connect, say READY, record until stdin closes or
    says STOP, print the figures as one JSON line."""
    addresses = [(host, int(port)) for host, port in (a.split(":") for a in args.address)]

    async def session() -> dict:
        clients = await _clients(addresses, args.token, args.sockets)
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for client in clients:
            client.close()
        return _measure(clients)

    print(json.dumps(asyncio.run(session())), flush=True)


class _Recorded:
    """A socket of the Node load client: what it received, ``(seconds, frame)``."""

    def __init__(self, arrivals: list[list]):
        self.arrivals = [(float(at), frame) for at, frame in arrivals]


def node_client() -> Path:
    """``bench/wsclient/client.mjs``, its ``ws`` package installed on first use (npm)."""
    import subprocess

    here = ROOT / "bench" / "wsclient"
    if not (here / "node_modules" / "ws").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=here, check=True)
    return here / "client.mjs"


def _cpu(processes) -> float:
    """CPU seconds (user + system) the server processes used so far."""
    import psutil

    return sum(sum(psutil.Process(p.pid).cpu_times()[:2]) for p in processes)


def _latency_round(addresses: list[str], token: str, sockets: int, stack, args) -> dict:
    import subprocess

    from events.models import Event

    if args.client == "node":
        cmd = ["node", str(node_client()), "--token", token, "--sockets", str(sockets),
               "--address", *addresses]  # fmt: skip
    else:
        cmd = [sys.executable, "-m", "bench.events", "clients", "--token", token,
               "--sockets", str(sockets), "--address", *addresses]  # fmt: skip
    if args.client_cpu is not None:
        cmd = ["taskset", "-c", args.client_cpu, *cmd]
    client = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ}, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        ready = client.stdout.readline().strip()
        if ready != "READY":
            raise RuntimeError(f"load client failed: {ready!r}")
        first_id = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
        cpu_before = _cpu(stack.daphnes)
        rate, seconds = str(args.rate), str(args.seconds)
        producer = stack.spawn(f"producer-{sockets}", "-m", "bench.events", "produce",
                               "--rate", rate, "--seconds", seconds)  # fmt: skip
        producer.wait(args.seconds + 60)
        time.sleep(args.drain)
        cpu = _cpu(stack.daphnes) - cpu_before
        client.stdin.write("STOP\n")
        client.stdin.flush()
        result = json.loads(client.stdout.readline())
        if args.client == "node":  # the arrivals per socket: the same figures as ours
            result = _measure([_Recorded(arrivals) for arrivals in result["arrivals"]])
        client.wait(60)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    stored = Event.objects.filter(id__gt=first_id, channel="queue").count()
    return {
        "sockets": sockets,
        "events": stored,
        "delivered": result["frames"] / max(1, stored * sockets),
        # daphne CPU per frame delivered (summaries, pings and the hubs' polls included)
        "cpu_us": cpu / max(1, result["frames"] + result["summaries"]) * 1e6,
        **result,
    }


def _names(per_event: dict[str, list[float]], clients) -> dict[str, list[float]]:
    """Per event name: the latencies of its frames (which kinds of events are late)."""
    names: dict[str, str] = {}
    for _arrived, payload in clients[0].arrivals if clients else []:
        frame = json.loads(payload)
        if "_id" in frame:
            names[frame["_id"]] = frame.get("name", "?")
    out: dict[str, list[float]] = {}
    for event_id, values in per_event.items():
        out.setdefault(names.get(event_id, "?"), []).extend(values)
    return out


def start_daphnes(stack, count: int) -> list[str]:
    """``count`` daphne processes on their own ports (the sockets are split between them)."""
    import requests

    from tests.support import free_port, wait_for

    addresses = []
    stack.daphnes = []
    for n in range(count):
        port = free_port()
        process = stack.spawn(f"daphne-{n + 1}", "-m", "daphne", "-b", "127.0.0.1", "-p",
                              str(port), "core4site.asgi:application")  # fmt: skip
        url = f"http://127.0.0.1:{port}"

        def answers(process=process, url=url):
            if process.poll() is not None:
                raise AssertionError("daphne exited")
            try:
                return requests.get(url + "/core4/api/v1/login", timeout=2).status_code
            except requests.ConnectionError:
                return None

        wait_for(answers, 60, message="daphne did not answer")
        addresses.append(f"127.0.0.1:{port}")
        stack.daphnes.append(process)
    return addresses


def latency(args) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        stack = open_stack(Path(tmp))
        try:
            token = make_user("bench", [])
            addresses = start_daphnes(stack, args.daphnes)
            stack.start_worker("bench-worker")
            print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
            print(
                f"jobs: {NOOP} enqueued at {args.rate}/s (jittered) for {args.seconds} s by a "
                f"separate process, run by one worker (4 queue events per job); "
                f"{args.daphnes} daphne process(es); {args.client} load client in its own "
                f"process"
                + (f" pinned to CPU {args.client_cpu}" if args.client_cpu is not None else "")
            )
            print("sockets  events  frames   delivered  summaries  p50 ms  p99 ms  max ms  "
                  "daphne CPU µs/frame")  # fmt: skip
            for sockets in args.sockets:
                r = _latency_round(addresses, token, sockets, stack, args)
                print(
                    f"{r['sockets']:>7}  {r['events']:>6}  {r['frames']:>7}  "
                    f"{100 * r['delivered']:>8.1f}%  {r['summaries']:>9}  {r['p50']:>6.1f}  "
                    f"{r['p99']:>6.1f}  {r['max']:>6.1f}  {r['cpu_us']:>8.1f}",
                    flush=True,
                )
                slow = ", ".join(f"{name} {p50:.1f}" for p50, name in r["slow"])
                print(
                    f"         per event (median): first socket {r['first']:.1f} ms, first→last "
                    f"socket {r['spread']:.1f} ms; p50 by event name: {slow}; "
                    f"load average {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
        finally:
            stack.stop()


# --- summary ------------------------------------------------------------------------------------
class _Sink:
    def __init__(self, access, key):
        self.interests = {"queue"}
        self.replaying = False
        self.cursor = 0
        self.last_summary = "[]"
        self.access = access
        self.access_key = key
        self.sent = 0

    async def send_frame(self, frame: str) -> None:
        self.sent += 1


def summary(args) -> None:
    import hashlib
    import random

    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        stack = open_stack(Path(tmp))
        try:
            from accounts.permissions import access_from
            from events.hub import Hub
            from events.outbox import summary_message
            from events.summary import access_key, mask
            from jobqueue.models import Job
            from jobqueue.summary import summary_rows

            print(f"machine: {machine()}")
            rng = random.Random(4)
            states = ["pending"] * 6 + ["running", "deferred", "failed", "error"]
            jobs = [
                Job(
                    name=f"app{n % 10}.jobs.Job{n % args.names}",
                    args={"n": n},
                    args_hash=hashlib.md5(str(n).encode()).hexdigest(),
                    state=rng.choice(states),
                    prog_value=rng.random() if rng.random() < 0.3 else None,
                )
                for n in range(args.jobs)
            ]
            Job.objects.bulk_create(jobs, batch_size=5000)

            def query_ms() -> float:
                timings = []
                for _ in range(5):
                    t = time.perf_counter()
                    summary_rows()
                    timings.append((time.perf_counter() - t) * 1000)
                return statistics.median(timings)

            fresh = query_ms()
            from django.db import connection

            if connection.vendor == "postgresql":  # what autovacuum does soon after a load
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE queue_job")
            rows = summary_rows()
            steady = query_ms()
            print(
                f"{args.jobs} unfinished jobs, {args.names} names → {len(rows)} summary rows; "
                f"summary_rows() (jobqueue's query) median {steady:.1f} ms "
                f"({fresh:.1f} ms right after the bulk load, before VACUUM ANALYZE)"
            )
            accesses = {
                "admin (cop)": access_from(["cop"]),
                "reader (job://app1.*/r)": access_from(["job://app1\\..*/r"]),
                "no job permission": access_from([]),
            }
            for label, access in accesses.items():
                t = time.perf_counter()
                for _ in range(20):
                    masked = mask(rows, access)
                per = (time.perf_counter() - t) * 1000 / 20
                print(f"  mask for {label:<26} {per:6.2f} ms → {len(masked)} rows")

            async def fan_out():
                hub = Hub.__new__(Hub)  # only its fan-out: no layer, no database
                hub.members = set()
                hub._summary_rows, hub._summary_views = [], {}
                keys = list(accesses.values())
                for n in range(args.sockets):
                    access = keys[n % len(keys)]
                    hub.members.add(_Sink(access, access_key(access)))
                message = summary_message(rows, "bench")
                t = time.perf_counter()
                await hub.dispatch_summary(message)
                changed = (time.perf_counter() - t) * 1000
                t = time.perf_counter()
                await hub.dispatch_summary(summary_message(list(rows), "bench"))  # next tick
                unchanged = (time.perf_counter() - t) * 1000
                sent = sum(m.sent for m in hub.members)
                return changed, unchanged, sent

            changed, unchanged, sent = asyncio.run(fan_out())
            print(
                f"  hub fan-out to {args.sockets} sockets ({len(accesses)} permission sets): "
                f"changed {changed:.1f} ms ({sent} frames handed to sockets), "
                f"unchanged {unchanged:.1f} ms (0 sent)"
            )
            print(
                f"  total per tick, changed view: {steady + changed:.1f} ms "
                "(query + mask + encode + fan-out)"
            )
        finally:
            stack.stop()


# --- history ------------------------------------------------------------------------------------
def history(args) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        stack = open_stack(Path(tmp))
        try:
            from django.db import connection
            from django.test import Client as HttpClient

            from core4api.ids import utcnow
            from events.models import Event

            print(f"machine: {machine()}")
            token = make_user("reader", ["api://core4.api.v1.request.queue.history.*"])
            t = time.perf_counter()
            now = utcnow()
            batch = 20_000
            for start in range(0, args.events, batch):
                Event.objects.bulk_create(
                    Event(
                        name="enqueue_job",
                        channel="queue" if n % 10 else "message",
                        author="bench",
                        created=now,
                        data={"_id": f"{n:024x}", "queue": {"pending": n % 7}},
                        total=n % 7,
                    )
                    for n in range(start, min(args.events, start + batch))
                )
            with connection.cursor() as cursor:
                cursor.execute(
                    "ANALYZE" if connection.vendor == "sqlite" else "ANALYZE events_event"
                )
            print(f"{args.events} events inserted in {time.perf_counter() - t:.0f} s")
            client = HttpClient(HTTP_HOST="127.0.0.1")
            auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
            for label, url in [
                ("/jobs/history page 0", "/core4/api/v1/jobs/history"),
                ("/jobs/history page 1000", "/core4/api/v1/jobs/history?page=1000"),
                ("/jobs/history page -1 (oldest)", "/core4/api/v1/jobs/history?page=-1"),
                ("/event/history page 0", "/core4/api/v1/event/history"),
                ("/queue/history (7 days)", "/core4/api/v1/queue/history"),
            ]:
                timings = []
                for _ in range(5):
                    t = time.perf_counter()
                    response = client.get(url, **auth)
                    timings.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, response.content[:300]
                print(f"  {label:<32} median {statistics.median(timings):7.1f} ms")
            page = Event.objects.filter(channel="queue").order_by("-id")[10000:10010]
            sql, params = page.query.sql_with_params()
            with connection.cursor() as cursor:
                explain = "EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
                cursor.execute(explain + sql, params)
                print("  plan of a history page:")
                for row in cursor.fetchall():
                    print("    " + " ".join(str(c) for c in row))
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("latency")
    p.add_argument("--sockets", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--rate", type=float, default=5.0, help="jobs enqueued per second")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--drain", type=float, default=5.0, help="listen this long after the last job")
    p.add_argument("--daphnes", type=int, default=1, help="daphne processes (sockets split)")
    p.add_argument("--client-cpu", default=None, help="pin the load client (taskset -c CPU)")
    p.add_argument("--client", choices=["python", "node"], default="python",
                   help="load client: asyncio, or Node ws (bench/wsclient)")  # fmt: skip
    p = sub.add_parser("clients", help="(internal) the load client process")
    p.add_argument("--token", required=True)
    p.add_argument("--sockets", type=int, required=True)
    p.add_argument("--address", nargs="+", required=True, help="host:port of each daphne")
    p = sub.add_parser("summary")
    p.add_argument("--jobs", type=int, default=100_000)
    p.add_argument("--names", type=int, default=1000)
    p.add_argument("--sockets", type=int, default=1000)
    p = sub.add_parser("history")
    p.add_argument("--events", type=int, default=1_000_000)
    p = sub.add_parser("produce", help="(internal) the job producer process")
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    if args.command == "produce":
        produce(args.rate, args.seconds)
    elif args.command == "clients":
        run_clients(args)
    else:
        {"latency": latency, "summary": summary, "history": history}[args.command](args)


if __name__ == "__main__":
    main()
