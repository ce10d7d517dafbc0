"""ASGI entry point: ``daphne core4site.asgi:application`` serves HTTP and WebSocket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core4site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.channels_auth import TokenAuthMiddleware  # noqa: E402
from accounts.origin import WebSocketOriginValidator  # noqa: E402
from core4site import accesslog  # noqa: E402
from events.routing import websocket_urlpatterns  # noqa: E402

# daphne builds its access log right after importing this module: the redacting one.
accesslog.install()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebSocketOriginValidator(
            TokenAuthMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
