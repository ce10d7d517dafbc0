"""Issue 10 item 7: the event socket's Origin is matched exactly (scheme, host and port).

Channels' ``AllowedHostsOriginValidator`` compared host names only, so a page on
``http://127.0.0.1:9999`` could open a socket to ``http://127.0.0.1:5001`` with the cookie.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.models import User
from accounts.tokens import COOKIE_NAME, issue_token

pytestmark = pytest.mark.django_db(transaction=True)
HOST = (b"host", b"127.0.0.1:5001")


@database_sync_to_async
def _cookie() -> tuple[bytes, bytes]:
    user = User(name="wsadmin", email="wsadmin@example.com", perm=["cop"])
    user.set_password("secret")
    user.save()
    return (b"cookie", f"{COOKIE_NAME}={issue_token(user)}".encode())


async def _connects(headers) -> bool:
    from core4site.asgi import application

    communicator = WebsocketCommunicator(application, "/core4/api/v1/event", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    await communicator.disconnect()
    return connected


@pytest.mark.parametrize(
    "origin",
    [
        b"http://127.0.0.1:9999",  # another port on the same host
        b"https://127.0.0.1:5001",  # another scheme
        b"http://127.0.0.1",  # default port is not 5001
        b"http://evil.example",
        b"null",
    ],
)
async def test_foreign_origins_are_refused(origin):
    cookie = await _cookie()
    assert not await _connects([HOST, cookie, (b"origin", origin)])


async def test_own_origin_is_accepted():
    cookie = await _cookie()
    assert await _connects([HOST, cookie, (b"origin", b"http://127.0.0.1:5001")])


async def test_allowed_origins_setting(settings):
    settings.CORE4_ALLOWED_ORIGINS = ["https://core4.example.com"]
    cookie = await _cookie()
    assert await _connects([HOST, cookie, (b"origin", b"https://core4.example.com")])
    assert not await _connects([HOST, cookie, (b"origin", b"http://127.0.0.1:5001")])


async def test_a_socket_without_origin_is_not_a_browser_and_is_accepted():
    """Browsers always send Origin on a WebSocket handshake; only other clients omit it."""
    cookie = await _cookie()
    assert await _connects([HOST, cookie])
