"""WebSocket routes of the events app."""

websocket_urlpatterns: list = []
