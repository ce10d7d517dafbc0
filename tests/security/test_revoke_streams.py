"""Taking a right away ends the user's server-sent event streams (``follow``) within 2 s."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from accounts.models import User
from accounts.tokens import issue_token
from tests.jobqueue.api.conftest import ECHO, LEVELS, enqueue, make_user, parse_sse
from tests.support import Api

#: The stream re-checks its user every second; a generous bound for a loaded machine, far
#: below the 30 s periodic re-check.
BUDGET = 10.0


@pytest.fixture
def slow_follow(settings):
    settings.CORE4_JOB_FOLLOW_POLL = 0.05
    settings.CORE4_JOB_FOLLOW_MAX = 10.0
    settings.CORE4_JOB_FOLLOW_KEEPALIVE = 0.2
    return settings


def follow_and(client, user, change) -> tuple[list, float]:
    """Follow a pending job as ``user``, apply ``change`` after the first frame, and read on
    until the stream ends (at most 5 s): the frames after the change and how long they took."""
    job = enqueue(ECHO)
    response = Api(client, str(issue_token(user))).get(f"/job/follow/{job.id}")
    assert response.status_code == 200

    async def read():
        parts = response.streaming_content.__aiter__()
        first = await parts.__anext__()
        assert b"event: state" in first
        await sync_to_async(change)()
        start, rest = time.monotonic(), []
        async for part in parts:
            rest.append(part)
            if time.monotonic() - start > BUDGET + 5:
                break
        return rest, time.monotonic() - start

    rest, took = async_to_sync(read)()
    return parse_sse(b"".join(rest).decode()), took


@pytest.mark.django_db
def test_follow_ends_when_the_user_is_deleted(client, slow_follow):
    user = make_user("follower", LEVELS["r"])
    events, took = follow_and(client, user, lambda: User.objects.get(pk=user.pk).delete())
    assert took < BUDGET
    assert events == [("close", {"state": 1, "log": 0, "reason": "revoked"})]


@pytest.mark.django_db
def test_follow_ends_when_the_user_is_deactivated(client, slow_follow):
    user = make_user("follower", LEVELS["r"])
    events, took = follow_and(
        client, user, lambda: User.objects.filter(pk=user.pk).update(is_active=False)
    )
    assert took < BUDGET and events[-1][1]["reason"] == "revoked"


@pytest.mark.django_db
def test_follow_ends_when_read_access_is_removed(client, slow_follow):
    user = make_user("follower", LEVELS["r"])
    events, took = follow_and(
        client, user, lambda: User.objects.filter(pk=user.pk).update(perm=LEVELS["none"])
    )
    assert took < BUDGET and events[-1][1]["reason"] == "revoked"


@pytest.mark.django_db
def test_follow_ends_when_the_user_logs_out_everywhere(client, slow_follow):
    user = make_user("follower", [*LEVELS["r"], "api://core4.api.v1.request.standard.*"])

    def logout_everywhere():
        Api(client, str(issue_token(user))).post("/logout", {"all": True})

    events, took = follow_and(client, user, logout_everywhere)
    assert took < BUDGET and events[-1][1]["reason"] == "revoked"
