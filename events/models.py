"""What happened: the ``Event`` record.

Ids are commit-ordered: an event with a higher id committed after every event with a lower
id (see :mod:`events.outbox`), so ``since=<id>`` replays exactly what a client missed. They
are exposed as 24-hex-digit strings (``_id``), the shape of core4's ObjectIds, so that
string order equals id order.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from core4api.ids import isoformat, utcnow

QUEUE = "queue"
MESSAGE = "message"
MAX_CHANNEL = 128
MAX_NAME = 64


def format_id(pk: int) -> str:
    return f"{pk:024x}"


def parse_id(value: Any) -> int:
    """An event id from its string (24 hex digits) or integer form; ``ValueError`` if not one."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(value)
        return value
    if isinstance(value, str) and 0 < len(value) <= 24:
        number = int(value, 16)
        if number >= 0:
            return number
    raise ValueError(value)


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    created = models.DateTimeField(default=utcnow)
    name = models.CharField(max_length=MAX_NAME)
    author = models.CharField(max_length=150)
    channel = models.CharField(max_length=MAX_CHANNEL)
    data = models.JSONField(null=True, blank=True)
    #: Queue events: unfinished jobs after the change (sum of ``data.queue``), for the histories.
    total = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            # history pages and resume: WHERE channel = … ORDER BY id
            models.Index(fields=["channel", "id"], name="event_channel_id"),
            # queue history by date span, retention
            models.Index(fields=["channel", "created"], name="event_channel_created"),
            models.Index(fields=["created"], name="event_created"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}/{self.name} {format_id(self.pk) if self.pk else '-'}"

    @property
    def event_id(self) -> str:
        return format_id(self.pk)

    def to_document(self) -> dict[str, Any]:
        """The event as clients see it (stored form)."""
        return {
            "_id": format_id(self.pk),
            "created": isoformat(self.created),
            "name": self.name,
            "author": self.author,
            "channel": self.channel,
            "data": self.data,
        }
