"""WebSocket routes of the events app."""

from django.urls import path

from events.consumers import EventConsumer

websocket_urlpatterns: list = [
    path("core4/api/v1/event", EventConsumer.as_asgi()),
]
