"""Log in and print the live event stream of a core4site (or core4) server.

    .venv/bin/python examples/watch_events.py                       # admin/hans on :5001, queue
    .venv/bin/python examples/watch_events.py -u test -p "very secret" -c queue message
    .venv/bin/python examples/watch_events.py --since 00000000000000000000002a

Needs ``requests`` and ``websocket-client`` (in requirements.txt: ``./run.sh`` installs them).
Reconnects after a lost connection and resumes from the last event id it printed, so nothing
is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import requests
from websocket import WebSocketException, create_connection


def login(base: str, username: str, password: str) -> str:
    response = requests.get(
        f"{base}/core4/api/login",
        params={"username": username, "password": password},
        timeout=10,
    )
    if response.status_code != 200:
        sys.exit(f"login failed: {response.status_code} {response.text[:200]}")
    return response.json()["data"]["token"]


def watch(base: str, token: str, channels: list[str], since: str | None) -> str | None:
    """Print frames until the connection drops; returns the last event id seen."""
    ws = create_connection(base.replace("http", "ws", 1) + "/core4/api/v1/event?token=" + token)
    try:
        request = {"type": "interest", "data": channels}
        if since:
            request["since"] = since
        ws.send(json.dumps(request))
        print(ws.recv(), flush=True)  # processed interest in [...]
        while True:
            frame = json.loads(ws.recv())
            if frame.get("name") == "summary":
                rows = ", ".join(f"{r['name']}:{r['state']}={r['n']}" for r in frame["data"])
                print(f"{frame['created']}  summary  [{rows}]", flush=True)
                continue
            since = frame.get("_id", since)
            print(
                f"{frame.get('created')}  {frame.get('name'):<18} {frame.get('author')}  "
                f"{json.dumps(frame.get('data'))}",
                flush=True,
            )
    except (WebSocketException, ConnectionError) as exc:
        print(f"connection lost ({exc}); resuming after {since}", file=sys.stderr)
        return since
    finally:
        ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="print a core4 event stream")
    parser.add_argument("--url", default="http://127.0.0.1:5001")
    parser.add_argument("-u", "--username", default="admin")
    parser.add_argument("-p", "--password", default="hans")
    parser.add_argument("-c", "--channels", nargs="+", default=["queue"])
    parser.add_argument("--since", default=None, help="replay the events after this _id first")
    args = parser.parse_args()
    since = args.since
    for _ in range(100):  # bounded: give up after 100 reconnects
        token = login(args.url, args.username, args.password)
        try:
            since = watch(args.url, token, args.channels, since)
        except KeyboardInterrupt:
            return
        time.sleep(2)


if __name__ == "__main__":
    main()
