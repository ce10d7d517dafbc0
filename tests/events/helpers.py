"""Shared helpers of the events tests: users, tokens, sockets on the real ASGI application."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, transaction

from accounts.models import User
from accounts.tokens import issue_token
from core4api.ids import object_id
from jobqueue.signals import job_transition, queue_summary
from tests.support import make_user

ORIGIN = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
DUMMY = "core4.queue.helper.job.example.DummyJob"


def standard_user(name: str, *perm: str) -> User:
    """A user with the ``standard_user`` role and ``perm`` (plain: async tests call it through
    ``database_sync_to_async``)."""
    return make_user(name, perm, roles=("standard_user",))


def token_of(user: User, lifetime: float | None = None) -> str:
    token = issue_token(user)
    if lifetime is not None:
        from datetime import timedelta

        token.set_exp(lifetime=timedelta(seconds=lifetime))
    return str(token)


def application():
    from core4site.asgi import application

    return application


async def open_socket(token: str | None) -> WebsocketCommunicator:
    path = "/core4/api/v1/event" + (f"?token={token}" if token else "")
    communicator = WebsocketCommunicator(application(), path, headers=ORIGIN)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def recv(communicator: WebsocketCommunicator, timeout: float = 10) -> dict:
    return json.loads(await communicator.receive_from(timeout=timeout))


async def recv_until(communicator, predicate, timeout: float = 10, limit: int = 200) -> dict:
    """The first frame that satisfies ``predicate`` (earlier ones are skipped)."""
    for _ in range(limit):
        frame = await recv(communicator, timeout)
        if predicate(frame):
            return frame
    raise AssertionError("no matching frame")


async def interest(communicator, channels, since=None) -> dict:
    frame = {"type": "interest", "data": channels}
    if since is not None:
        frame["since"] = since
    await communicator.send_json_to(frame)
    return await recv(communicator)


async def nothing_more(communicator, timeout: float = 0.5) -> bool:
    return await communicator.receive_nothing(timeout=timeout)


def transition(event: str, counts: dict, job_id: str | None = None, author: str = "mra") -> str:
    """Send ``job_transition`` as ``jobqueue.transitions`` does: in a transaction."""
    job = SimpleNamespace(pk=job_id or object_id())
    with transaction.atomic():
        job_transition.send(sender=None, event=event, job=job, counts=counts, author=author)
    return job.pk


async def atransition(*args, **kwargs) -> str:
    return await database_sync_to_async(transition)(*args, **kwargs)


def summary(rows: list[dict], author: str = "mra") -> None:
    queue_summary.send(sender=None, rows=rows, author=author)


async def asummary(rows: list[dict]) -> None:
    await database_sync_to_async(summary)(rows)


def row(name: str, state: str, n: int = 1, progress=None, **flags) -> dict:
    return {
        "name": name,
        "state": state,
        "n": n,
        "zombie": flags.get("zombie", False),
        "wall": flags.get("wall", False),
        "removed": flags.get("removed", False),
        "killed": flags.get("killed", False),
        "progress": progress,
    }


async def close(*communicators) -> None:
    for communicator in communicators:
        await communicator.disconnect()
    await asyncio.sleep(0)


def commit_order_race(slow: Callable[[], list[int]], fast: Callable[[], int]) -> dict:
    """``slow()`` stores events in a transaction that stays open 0.5 s after; meanwhile, in
    another thread, ``fast()`` stores one and commits. Returns ``{"slow": its ids, "fast":
    the fast id, "lower_visible": the ids below it visible right after its commit}`` — in
    commit order, ``lower_visible == slow`` and ``fast > max(slow)``."""
    from events.models import Event

    inserted = threading.Event()
    seen: dict[str, object] = {}
    errors: list[BaseException] = []

    def first():
        try:
            with transaction.atomic():
                seen["slow"] = slow()
                inserted.set()
                time.sleep(0.5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            inserted.set()
        finally:
            connection.close()

    def second():
        try:
            assert inserted.wait(10)
            pk = fast()
            seen["fast"] = pk
            # right after this commit: are all lower ids committed (visible)?
            seen["lower_visible"] = list(
                Event.objects.filter(id__lt=pk).values_list("id", flat=True)
            )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return seen
