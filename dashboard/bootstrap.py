"""What the page must know that the server defines: job states and their groups, event
names, the masked job name, the core4 handler names of the APIs it calls.

``dashboard/index.html`` renders it as JSON with ``json_script`` (data, not a script: the
page's CSP allows no inline script and needs none) and ``static/dashboard/server.js``
reads it, so the JavaScript re-types none of it.
"""

from __future__ import annotations

from typing import Any

from core4api.limitvalues import limit
from dashboard.access import APIS
from jobqueue import states

#: The element id of the JSON (``server.js`` reads it).
ELEMENT_ID = "dashboard-bootstrap"

#: How the event stream shows each queue event: its CSS class ``ev-<tone>``.
EVENT_TONES = {
    states.ENQUEUE_JOB: "info",
    states.REQUEST_START_JOB: "info",
    states.START_JOB: "run",
    states.COMPLETE_JOB: "ok",
    states.DEFER_JOB: "warn",
    states.FAILED_START: "bad",
    states.FAILED_JOB: "warn",
    states.ERROR_JOB: "bad",
    states.REQUEST_REMOVE_JOB: "muted",
    states.REMOVE_JOB: "muted",
    states.REQUEST_KILL_JOB: "bad",
    states.KILL_JOB: "bad",
    states.FLAG_NONSTOP: "warn",
    states.FLAG_ZOMBIE: "warn",
    states.INACTIVATE_JOB: "bad",
    states.RESTART_WAITING: "info",
    states.RESTART_STOPPED: "info",
}


def bootstrap() -> dict[str, Any]:
    """The JSON the dashboard page carries (the same for every user: no data, no rights)."""
    return {
        "states": list(states.STATES),
        "unfinished": list(states.UNFINISHED),
        "restartable": list(states.RESTARTABLE),
        "waiting": list(states.WAITING),
        "bulk_max": limit("CORE4_JOB_BULK_MAX"),
        "events": {name: EVENT_TONES.get(name, "info") for name in states.EVENTS},
        "unauthorized": states.UNAUTHORIZED,
        "handlers": APIS,
    }
