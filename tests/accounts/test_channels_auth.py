"""The Channels middleware authenticates a WebSocket from ?token=, header or cookie."""

import pytest
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.testing import WebsocketCommunicator

from accounts.channels_auth import TokenAuthMiddleware
from accounts.tokens import issue_token
from tests.support import make_user

pytestmark = pytest.mark.django_db(transaction=True)


class WhoAmI(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        user = self.scope["user"]
        await self.send_json(
            {
                "name": user.name if user.is_authenticated else None,
                "error": self.scope["auth_error"],
                "has_token": self.scope["token"] is not None,
            }
        )


APP = TokenAuthMiddleware(WhoAmI.as_asgi())


@database_sync_to_async
def _token(**fields):
    user = make_user("wsuser", email="ws@example.com", password="x", **fields)
    return str(issue_token(user)), user


async def _ask(path="/ws", headers=None):
    communicator = WebsocketCommunicator(APP, path, headers=headers or [])
    connected, _ = await communicator.connect()
    assert connected
    reply = await communicator.receive_json_from()
    await communicator.disconnect()
    return reply


async def test_token_from_query_header_and_cookie():
    token, _ = await _token()
    for path, headers in [
        (f"/ws?token={token}", []),
        ("/ws", [(b"authorization", f"Bearer {token}".encode())]),
        ("/ws", [(b"cookie", f"other=1; token={token}".encode())]),
    ]:
        reply = await _ask(path, headers)
        assert reply == {"name": "wsuser", "error": None, "has_token": True}


async def test_missing_bad_and_inactive():
    assert (await _ask())["error"] == "missing token"
    bad = await _ask("/ws?token=garbage")
    assert bad["name"] is None and "invalid token" in bad["error"]
    token, user = await _token()
    user.is_active = False
    await database_sync_to_async(user.save)()
    inactive = await _ask(f"/ws?token={token}")
    assert inactive["name"] is None and inactive["error"] == "user is inactive"
