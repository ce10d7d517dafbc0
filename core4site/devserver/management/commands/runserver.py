"""``manage.py runserver``: daphne's (ASGI: HTTP and WebSockets, static files with DEBUG),
loaded only when this command runs (see :mod:`core4site.devserver`)."""

from daphne.management.commands.runserver import Command

__all__ = ["Command"]
