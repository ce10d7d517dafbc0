"""``manage.py prune_events``: retention in batches."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core4api.ids import utcnow
from events.models import Event

pytestmark = pytest.mark.django_db


def _events(days_ago: float, n: int) -> None:
    created = utcnow() - timedelta(days=days_ago)
    Event.objects.bulk_create(
        Event(name="enqueue_job", channel="queue", author="x", created=created, data={})
        for _ in range(n)
    )


def test_prunes_only_events_older_than_the_retention(settings):
    settings.CORE4_EVENT_RETENTION_DAYS = 30
    _events(40, 25)
    _events(29, 5)
    out = StringIO()
    call_command("prune_events", "--batch", "10", stdout=out)
    assert Event.objects.count() == 5
    text = out.getvalue()
    assert "deleted 10/25 (40 %)" in text
    assert "deleted 25 events older than 30 days" in text


def test_days_option_and_dry_run():
    _events(3, 4)
    out = StringIO()
    call_command("prune_events", "--days", "2", "--dry-run", stdout=out)
    assert "4 events older than 2 days" in out.getvalue()
    assert Event.objects.count() == 4
    call_command("prune_events", "--days", "2", stdout=StringIO())
    assert Event.objects.count() == 0


def test_bad_arguments():
    with pytest.raises(CommandError):
        call_command("prune_events", "--days", "-1")
    with pytest.raises(CommandError):
        call_command("prune_events", "--batch", "0")
