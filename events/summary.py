"""The queue summary as one user may see it.

The worker broadcasts the raw rows (``name``, ``state``, ``n``, ``zombie``, ``wall``,
``removed``, ``killed``, ``progress``); each socket gets a masked copy: names its user may
not read become ``UnauthorizedJob``, rows that then coincide are merged (``n`` summed,
``progress`` averaged weighted by ``n``), sorted by state, name. Sockets whose users have the
same job permissions share one computation (:func:`access_key`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from accounts.permissions import Access
from jobqueue.states import UNAUTHORIZED

FLAGS = ("zombie", "wall", "removed", "killed")


def access_key(access: Access) -> Hashable:
    """Equal for two users iff they may read the same job names."""
    return ("cop",) if access.is_admin else access.job_patterns


def mask(rows: Iterable[dict[str, Any]], access: Access) -> list[dict[str, Any]]:
    """``rows`` with unreadable names masked and coinciding rows merged; a new list.

    ``rows`` are never changed (they are shared by every socket of the process).
    """
    if access.is_admin:
        return list(rows)  # reads every name: nothing to mask, nothing coincides
    readable: dict[str, bool] = {}
    merged: dict[tuple, dict[str, Any]] = {}
    progresses: dict[tuple, list[tuple[float, int]]] = {}
    for row in rows:
        name = row.get("name")
        if not isinstance(name, str):
            name = UNAUTHORIZED
        if name not in readable:
            readable[name] = access.can_read_job(name)
        shown = name if readable[name] else UNAUTHORIZED
        flags = tuple(bool(row.get(flag, False)) for flag in FLAGS)
        key = (str(row.get("state")), shown, *flags)
        n = int(row.get("n") or 0)
        progress = row.get("progress")
        target = merged.get(key)
        if target is None:
            target = merged[key] = {"name": shown, "state": row.get("state"), "n": 0}
            target.update(zip(FLAGS, flags, strict=True))
            target["progress"] = None
            progresses[key] = []
        target["n"] += n
        if isinstance(progress, (int, float)) and not isinstance(progress, bool):
            progresses[key].append((progress, n))
    result = []
    for key in sorted(merged):
        row = merged[key]
        values = progresses[key]
        if len(values) == 1:
            row["progress"] = values[0][0]
        elif values:
            weight = sum(n for _, n in values)
            row["progress"] = (
                sum(p * n for p, n in values) / weight
                if weight
                else sum(p for p, _ in values) / len(values)
            )
        result.append(row)
    return result
