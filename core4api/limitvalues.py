"""The named limits' values: each a Django setting, with the default below when a project
does not set it (``core4api.limits`` has what enforces them on API requests). Apart from it
so that code outside the API — the queue's services, the CLI — reads a limit without
loading Django REST framework into every worker and job process.
"""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    #: bytes of the ``filter`` argument (its JSON text)
    "CORE4_FILTER_MAX_BYTES": 16_384,
    #: items of any list and members of any object in a filter (``$in``, ``$or``, keys …)
    "CORE4_FILTER_MAX_ITEMS": 500,
    #: nesting of objects and lists in a filter, and parts of a dotted key (``args.a.b``)
    "CORE4_FILTER_MAX_DEPTH": 32,
    #: conditions in a filter (field comparisons; a list of plain values for ``$in`` is one)
    "CORE4_FILTER_MAX_CONDITIONS": 100,
    #: regular expressions in a filter (each runs once per row it is tested on)
    "CORE4_FILTER_MAX_PATTERNS": 5,
    #: characters of one regular expression (``$regex`` or core4's implicit pattern)
    "CORE4_FILTER_MAX_REGEX": 256,
    #: bytes of a request body
    "CORE4_MAX_BODY_BYTES": 2_621_440,
    #: seconds a listing's database queries may run (0 = no limit)
    "CORE4_API_QUERY_TIMEOUT": 5.0,
    #: listings with a costly filter that run at once in one server process (0 = no limit)
    "CORE4_API_COSTLY_FILTERS": 1,
    #: job ids in one ``PUT /job/bulk``
    "CORE4_JOB_BULK_MAX": 100,
    #: jobs in one ``enqueue_many`` (``POST /job/bulk``, ``manage.py enqueue --file``)
    "CORE4_ENQUEUE_MANY_MAX": 10_000,
}


def limit(name: str):
    return getattr(settings, name, DEFAULTS[name])
