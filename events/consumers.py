"""``/core4/api/v1/event``: the live event stream.

The socket authenticates in ``accounts.channels_auth`` (scope ``user``, ``token``,
``auth_error``); without a user it is closed with 4401, without the ``api://`` permission of
core4's ``EventHandler`` with 4403 (accepted first, so that the client gets the close code:
an ASGI server refuses an unaccepted socket with a bare HTTP 403), and when its token
expires with 4401. Client frames are checked by :mod:`events.frames` (named limits) before
any work; frames from the hub (:mod:`events.hub`) arrive pre-encoded. When its user's rights
change the hub hands it the user's current record (:meth:`reauthorize`): a deleted or
deactivated user or a revoked session closes it with 4401, losing the event API with 4403,
changed job permissions re-mask the summary at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.permissions import NO_ACCESS
from accounts.revocation import still_allowed
from events import frames, metrics
from events import hub as hubs
from events.frames import FrameError
from events.hub import BATCH, fetch_after
from events.models import parse_id
from events.outbox import store
from events.summary import access_key
from events.wire import Writer, raw_writer

log = logging.getLogger(__name__)

EVENT_HANDLER = "core4.api.v1.request.standard.event.EventHandler"
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
EMPTY_SUMMARY = "[]"


def _frame(**fields: Any) -> str:
    return json.dumps(fields, ensure_ascii=False)


@database_sync_to_async
def _store_message(channel: str, text: str, author: str) -> str:
    return store("message", channel, text, author).event_id


@database_sync_to_async
def _replay_batch(after: int, upto: int, channels: list[str]) -> list[tuple]:
    return fetch_after(after, BATCH, upto, channels)


class EventConsumer(AsyncWebsocketConsumer):
    # Sockets are not channel-layer members: the process's hub hands them their frames.
    channel_layer_alias = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.interests: set[str] = set()
        self.replaying = False
        self.cursor = 0
        self.last_summary = EMPTY_SUMMARY
        self.access = NO_ACCESS
        self.access_key = access_key(NO_ACCESS)
        self.hub: hubs.Hub | None = None
        self.user_id: str | None = None
        self._expiry: asyncio.TimerHandle | None = None
        #: daphne: writes a pre-framed message straight to the socket (events.wire)
        self.write_frame: Writer | None = None
        self.limits = frames.Limits.from_settings()
        self._counted = False  # in the open-sockets gauge (events.metrics)

    # --- connection -------------------------------------------------------------------------
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        self.access = user.access  # loaded by the auth middleware
        if not self.access.has_api_access(EVENT_HANDLER, "GET"):
            await self._refuse(CLOSE_FORBIDDEN)
            return
        self.access_key = access_key(self.access)
        self.author = user.name
        self.user_id = user.pk  # re-checked on revocation; the chat rate is per user
        self.hub = await hubs.join(self)
        await self.accept()
        self._counted = True
        metrics.SOCKETS.inc()
        self.write_frame = raw_writer(self.base_send)
        token = self.scope.get("token")
        if token is not None and "exp" in token:
            delay = max(0.0, float(token["exp"]) - time.time())
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(delay, lambda: loop.create_task(self._expired()))

    async def _refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def _expired(self) -> None:
        log.info("event socket of %s closed: token expired", getattr(self, "author", "?"))
        await self._leave()
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _leave(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.hub is not None:
            hub, self.hub = self.hub, None
            await hubs.leave(self, hub)

    async def reauthorize(self, user) -> None:
        """Called by the hub when the user's rights may have changed (``None``: deleted)."""
        if self.hub is None:
            return
        problem = still_allowed(user, self.scope.get("token"))
        if problem is None and not user.access.has_api_access(EVENT_HANDLER, "GET"):
            problem, code = "no access to the event API", CLOSE_FORBIDDEN
        else:
            code = CLOSE_UNAUTHENTICATED
        if problem is not None:
            log.info("event socket of %s closed: %s", self.author, problem)
            hub, self.hub = self.hub, None  # no frame in or out from now on
            hub.members.discard(self)
            # not from the hub's own task: leaving may stop the hub
            asyncio.get_running_loop().create_task(self._revoked(hub, code))
            return
        self.access = user.access
        key = access_key(self.access)
        if key != self.access_key:
            self.access_key = key
            await self.hub.summary_to(self)

    async def _revoked(self, hub: hubs.Hub, code: int) -> None:
        self.hub = hub
        await self._leave()
        await self.close(code=code)

    async def disconnect(self, code) -> None:
        if self._counted:
            self._counted = False
            metrics.SOCKETS.dec()
        await self._leave()

    async def send_frame(self, frame: str) -> None:
        """Called by the hub; a socket that went away meanwhile is not an error."""
        try:
            await self.base_send({"type": "websocket.send", "text": frame})
        except Exception as exc:  # noqa: BLE001
            log.debug("event socket send failed: %s", exc)

    # --- client frames ----------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.hub is None:
            return
        try:
            message = frames.parse(text_data, bytes_data, self.limits)
            kind = message.get("type")
            if kind == "interest":
                await self._interest(message)
            elif kind == "message":
                await self._message(message)
            else:
                await self.send(_frame(type="error", message="unknown type"))
        except FrameError as exc:
            await self.send(exc.frame())
        except Exception:
            log.exception("event socket: frame failed")
            await self.send(_frame(type="error", message="internal error"))

    async def _interest(self, message: dict) -> None:
        channels = frames.interest_channels(message.get("data"), self.limits)
        since = None
        if message.get("since") is not None:
            try:
                since = parse_id(message["since"])
            except (ValueError, TypeError) as exc:
                raise FrameError("invalid since, expected an _id") from exc
        self.interests = set(channels)
        await self.send(
            _frame(type="interest", data=channels, message=f"processed interest in {channels!r}")
        )
        if since is not None and channels:
            await self._replay(since, channels)

    async def _replay(self, since: int, channels: list[str]) -> None:
        """Send the stored events after ``since``, then hand over to the live stream.

        While replaying, the hub skips this socket; the replay runs until it reached the
        last event the hub dispatched, checked without yielding, so nothing falls between.
        """
        self.replaying = True
        try:
            cursor = since
            while True:
                target = self.hub.last_id
                while cursor < target:
                    rows = await _replay_batch(cursor, target, channels)
                    for pk, _, frame in rows:
                        await self.send(frame)
                        cursor = pk
                    if len(rows) < BATCH:
                        cursor = target
                if self.hub.last_id == target:
                    self.cursor = max(self.cursor, target)
                    break
        finally:
            self.replaying = False

    async def _message(self, message: dict) -> None:
        channel, text = frames.chat(message, self.interests, self.limits)
        frames.chat_rate.check(self.user_id, self.limits)
        added = channel not in self.interests
        self.interests.add(channel)  # before storing: the sender sees its own message
        message_id = await _store_message(channel, text, self.author)
        if added:
            reply = _frame(
                type="interest", message_id=message_id, message="OK, added interest in channel"
            )
        else:
            reply = _frame(type="send", message_id=message_id, message="OK")
        await self.send(reply)
