"""The pick index's predicate holds every plain column test of the pick (removed_at and
killed_at null too), so that PostgreSQL walks it in pick order also with stale statistics
instead of sorting every runnable job on each pick. The new index is built before the old
one goes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("queue", "0004_jobctl"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.OrderBy(models.F("force"), descending=True),
                models.OrderBy(models.F("priority"), descending=True),
                models.F("id"),
                condition=models.Q(
                    ("journaled", False),
                    ("killed_at", None),
                    ("removed_at", None),
                    ("state__in", ("pending", "failed", "deferred")),
                ),
                name="queue_job_pick_order",
            ),
        ),
        migrations.RemoveIndex(
            model_name="job",
            name="queue_job_pick",
        ),
    ]
