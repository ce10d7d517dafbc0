"""The job listing's ``filter`` and ``sort``, evaluated on what the user may see.

Filters and sort keys on ``qual_name``/``name`` and ``args`` work on *masked* columns: a job
the user may not read has the name ``UnauthorizedJob`` and no arguments there, so neither a
filter (``{"name": {"$regex": "^secret"}}`` and counting) nor a sort order reveals anything
about it. Which names are readable is decided in Python with the permission engine
(``re.match`` semantics, which no SQL dialect shares) over the distinct names in the queue.
"""

from __future__ import annotations

from django.db.models import Case, CharField, DateTimeField, F, JSONField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from accounts.permissions import Access
from core4api.arguments import argument
from core4api.exceptions import BadRequest
from core4api.filters import Field, FilterSpec, to_datetime
from jobqueue.api.presenters import UNAUTHORIZED
from jobqueue.models import Job
from jobqueue.states import INACTIVE, STOPPED

#: API filter keys → masked columns (``visible_*``) and the job's own columns.
JOB_FIELDS = {
    "_id": Field("id"),
    "qual_name": Field("visible_name"),
    "name": Field("visible_name"),
    "args": Field("visible_args", "json"),
    "state": Field("state"),
    "priority": Field("priority", "value"),
    "force": Field("force", "value"),
    "worker": Field("worker"),
    "attempts": Field("attempts", "value"),
    "attempts_left": Field("attempts_left", "value"),
    "trial": Field("trial", "value"),
    "enqueued.at": Field("enqueued_at", "value", convert=to_datetime),
    "enqueued.by": Field("enqueued_by"),
    "enqueued.hostname": Field("enqueued_hostname"),
    "enqueued.parent_id": Field("parent_id"),
    "started_at": Field("started_at", "value", convert=to_datetime),
    "query_at": Field("query_at", "value", convert=to_datetime),
    "killed_at": Field("killed_at", "value", convert=to_datetime),
    "removed_at": Field("removed_at", "value", convert=to_datetime),
    "wall_at": Field("wall_at", "value", convert=to_datetime),
    "zombie_at": Field("zombie_at", "value", convert=to_datetime),
    "prog.value": Field("prog_value", "value"),
    "locked.worker": Field("locked_by"),
}
JOB_SEARCH = ("qual_name",)

#: The journal's filter keys: the queue's, and when and whether the job finished.
JOURNAL_FIELDS = {
    **JOB_FIELDS,
    "journal": Field("journaled", "value"),
    "journaled_at": Field("journaled_at", "value", convert=to_datetime),
    "finished_at": Field("finished_at", "value", convert=to_datetime),
    "ended_at": Field("ended_at", "value", convert=to_datetime),
    "runtime": Field("runtime", "value"),
}
#: What the ``search`` argument matches (case-insensitive substring): id, masked name, masked
#: arguments (their JSON text).
SEARCH_FIELDS = {
    "_id": Field("id"),
    "qual_name": Field("visible_name"),
    "args": Field("visible_args", "json"),
}
#: Characters of the ``search`` argument.
MAX_SEARCH = 200

#: API sort keys → ORM fields.
SORT_FIELDS = {
    "_id": "id",
    "qual_name": "visible_name",
    "name": "visible_name",
    "state": "state",
    "priority": "priority",
    "force": "force",
    "trial": "trial",
    "attempts_left": "attempts_left",
    "enqueued.at": "enqueued_at",
    "started_at": "started_at",
    "prog.value": "prog_value",
    "query_at": "query_at",
}
JOURNAL_SORT_FIELDS = {
    **SORT_FIELDS,
    "journal": "journaled",
    "journaled_at": "journaled_at",
    "finished_at": "finished_at",
    "ended_at": "ended_at",
    "runtime": "runtime",
}


def readable_names(access: Access, queryset: QuerySet) -> list[str]:
    names = queryset.order_by().values_list("name", flat=True).distinct()
    return [name for name in names if access.can_read_job(name)]


def masked_queue(access: Access) -> QuerySet:
    """Unfinished jobs with ``visible_name`` / ``visible_args`` annotated for ``access``."""
    return masked(access, Job.objects.filter(journaled=False))


#: When a finished job ended: when it left the queue (journaled), else — a stopped job still
#: in the queue — when it became inactive or last finished. ``presenters.ended_at`` is the
#: same in Python.
ENDED_AT = Coalesce(
    Case(
        When(journaled=True, then=F("journaled_at")),
        When(state=INACTIVE, then=F("inactive_at")),
        default=F("finished_at"),
        output_field=DateTimeField(),
    ),
    F("finished_at"),
    F("enqueued_at"),
    output_field=DateTimeField(),
)


def masked_journal(access: Access) -> QuerySet:
    """Finished jobs — journaled (complete, removed, restarted) or stopped for good and still
    in the queue (error, killed, inactive) — masked as ``masked_queue``, with ``ended_at``."""
    journal = Job.objects.filter(Q(journaled=True) | Q(state__in=STOPPED))
    return masked(access, journal).annotate(ended_at=ENDED_AT)


def masked(access: Access, queryset: QuerySet) -> QuerySet:
    """``queryset`` with ``visible_name`` / ``visible_args`` annotated for ``access``."""
    if access.is_admin:
        return queryset.annotate(visible_name=F("name"), visible_args=F("args"))
    readable = readable_names(access, queryset)
    return queryset.annotate(
        visible_name=Case(
            When(name__in=readable, then=F("name")),
            default=Value(UNAUTHORIZED),
            output_field=CharField(),
        ),
        visible_args=Case(
            When(name__in=readable, then=F("args")),
            default=Value(None, output_field=JSONField()),
            output_field=JSONField(),
        ),
    )


def search(request, queryset: QuerySet) -> QuerySet:
    """The ``search`` argument: a case-insensitive substring of the id, the (masked) name or
    the (masked) arguments' JSON text — combined with ``filter``, not instead of it."""
    text = argument(request, "search", "", str).strip()
    if not text:
        return queryset
    if len(text) > MAX_SEARCH:
        raise BadRequest(f"parameter [search] longer than {MAX_SEARCH} characters")
    return FilterSpec(SEARCH_FIELDS, tuple(SEARCH_FIELDS)).apply(queryset, text)
