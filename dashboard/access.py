"""What the signed-in user may do, decided by the server's own permission engine.

The page asks instead of re-implementing ``accounts.permissions`` in JavaScript: Python's
``re.match`` and JavaScript's ``RegExp`` differ in syntax corners, and a button that shows
although the API would refuse it (or the other way round) is worse than one request.
"""

from __future__ import annotations

from typing import Any

from accounts.permissions import Access
from accounts.views import ProfileView, RoleListView
from events.consumers import EVENT_HANDLER
from events.views import EventHistoryView, JobHistoryView, QueueHistoryView
from jobqueue.api.views import JOB_HANDLER, SYSTEM_HANDLER

#: The APIs the page calls, by the key the page uses → core4 handler name (as the views
#: name themselves; the page gets these from the server, see ``dashboard.bootstrap``).
APIS = {
    "job": JOB_HANDLER,
    "system": SYSTEM_HANDLER,
    "event": EVENT_HANDLER,
    "event_history": EventHistoryView.core4_name,
    "queue_history": QueueHistoryView.core4_name,
    "jobs_history": JobHistoryView.core4_name,
    "profile": ProfileView.core4_name,
    "roles": RoleListView.core4_name,
}
METHODS = {"r": "GET", "c": "POST", "u": "PUT", "d": "DELETE"}
MAX_NAMES = 500


def describe(access: Access, names: list[str]) -> dict[str, Any]:
    """``{"admin", "handlers", "api": {key: {r,c,u,d}}, "execute_any",
    "jobs": {name: {read, execute}}}``."""
    return {
        "admin": access.is_admin,
        "handlers": APIS,
        "api": {
            key: {letter: access.has_api_access(name, method) for letter, method in METHODS.items()}
            for key, name in APIS.items()
        },
        # The enqueue form is offered to whoever may execute some job; the server still
        # decides per name when it is submitted.
        "execute_any": access.is_admin or any(right == "x" for _, right in access.job_patterns),
        "jobs": {
            name: {"read": access.can_read_job(name), "execute": access.can_execute_job(name)}
            for name in names[:MAX_NAMES]
        },
    }
