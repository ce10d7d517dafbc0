"""The queue summary: what the WebSocket ``summary`` frames show.

One row per (name, state, zombie, wall, removed, killed) over unfinished jobs, with the
number of jobs and their average progress value. Read from the partial covering index
``queue_job_summary`` (an index-only scan on PostgreSQL once the table is vacuumed).
"""

from __future__ import annotations

from django.db.models import Avg, Count, Q

from jobqueue.models import Job


def summary_rows() -> list[dict]:
    """Raw, unmasked rows sorted by state, name: ``{"name", "state", "n", "zombie",
    "wall", "removed", "killed", "progress"}``; ``progress`` is None when no job reported."""
    rows = (
        Job.objects.filter(journaled=False)
        .values("state", "name")
        .annotate(
            zombie=Q(zombie_at__isnull=False),
            wall=Q(wall_at__isnull=False),
            removed=Q(removed_at__isnull=False),
            killed=Q(killed_at__isnull=False),
        )
        .values("state", "name", "zombie", "wall", "removed", "killed")
        .annotate(n=Count("*"), progress=Avg("prog_value"))
        .order_by("state", "name", "zombie", "wall", "removed", "killed")
    )
    return [
        {
            "name": row["name"],
            "state": row["state"],
            "n": row["n"],
            "zombie": bool(row["zombie"]),
            "wall": bool(row["wall"]),
            "removed": bool(row["removed"]),
            "killed": bool(row["killed"]),
            "progress": row["progress"],
        }
        for row in rows
    ]
