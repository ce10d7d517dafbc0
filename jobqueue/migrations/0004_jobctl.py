"""``Job.error_time`` holds a number (seconds) or a backoff spec: a JSON column.

Existing rows keep their number. The column goes through text on the way: PostgreSQL has no
cast from integer to jsonb (``ALTER … USING error_time::jsonb`` fails), but it casts text to
jsonb, and ``'600'`` becomes the JSON number 600; on SQLite both steps copy the table.
"""

from django.db import migrations, models

import jobqueue.models


class Migration(migrations.Migration):
    dependencies = [
        ("queue", "0003_schedule_and_job_control"),
    ]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="error_time",
            field=models.CharField(default="600", max_length=16),
        ),
        migrations.AlterField(
            model_name="job",
            name="error_time",
            field=models.JSONField(default=jobqueue.models.default_error_time),
        ),
    ]
