"""The queue's vocabulary, defined once: job states and their groups, event names, the
name of a job the user may not read.

Everything that names a state or an event imports it from here: the model, the
transitions, the job API (presenters, OpenAPI schema), ``coco``, the events app and the
dashboard (which gets them from the server in its page, see ``dashboard.bootstrap``).
Only constants: this module imports nothing.
"""

from __future__ import annotations

# --- job states ------------------------------------------------------------------------------
PENDING = "pending"
RUNNING = "running"
DEFERRED = "deferred"
FAILED = "failed"
ERROR = "error"
INACTIVE = "inactive"
KILLED = "killed"
COMPLETE = "complete"

STATES = (PENDING, RUNNING, DEFERRED, FAILED, ERROR, INACTIVE, KILLED, COMPLETE)
#: States of unfinished (not journaled) jobs: the states the queue counts (``QueueCount``,
#: an event's ``queue``). A complete job is always journaled.
UNFINISHED = tuple(s for s in STATES if s != COMPLETE)
#: States a worker may pick.
PICKABLE = (PENDING, FAILED, DEFERRED)
#: ``restart`` of these clears the wait (same id).
WAITING = (DEFERRED, FAILED)
#: ``restart`` of these creates a new job (new id).
STOPPED = (KILLED, INACTIVE, ERROR)
#: States ``restart`` applies to.
RESTARTABLE = WAITING + STOPPED
#: States after which a job never changes again by itself (a stream of it ends there).
FINAL = (COMPLETE, *STOPPED)

#: core4's coarse state (a job's ``highstate`` in the API) → the states it stands for.
HIGHSTATES = {
    "waiting": (PENDING, DEFERRED, FAILED),
    "running": (RUNNING,),
    "stopped": STOPPED,
    "complete": (COMPLETE,),
}
#: state → highstate.
HIGHSTATE = {state: high for high, states in HIGHSTATES.items() for state in states}

# --- queue event names: one per transition ---------------------------------------------------
ENQUEUE_JOB = "enqueue_job"
REQUEST_START_JOB = "request_start_job"
START_JOB = "start_job"
COMPLETE_JOB = "complete_job"
DEFER_JOB = "defer_job"
FAILED_START = "failed_start"
FAILED_JOB = "failed_job"
ERROR_JOB = "error_job"
REQUEST_REMOVE_JOB = "request_remove_job"
REMOVE_JOB = "remove_job"
REQUEST_KILL_JOB = "request_kill_job"
KILL_JOB = "kill_job"
FLAG_NONSTOP = "flag_nonstop"
FLAG_ZOMBIE = "flag_zombie"
INACTIVATE_JOB = "inactivate_job"
RESTART_WAITING = "restart_waiting"
RESTART_STOPPED = "restart_stopped"

EVENTS = (
    ENQUEUE_JOB,
    REQUEST_START_JOB,
    START_JOB,
    COMPLETE_JOB,
    DEFER_JOB,
    FAILED_START,
    FAILED_JOB,
    ERROR_JOB,
    REQUEST_REMOVE_JOB,
    REMOVE_JOB,
    REQUEST_KILL_JOB,
    KILL_JOB,
    FLAG_NONSTOP,
    FLAG_ZOMBIE,
    INACTIVATE_JOB,
    RESTART_WAITING,
    RESTART_STOPPED,
)

# --- masking ------------------------------------------------------------------------------------
#: The name a job shows under to a user who may not read its name.
UNAUTHORIZED = "UnauthorizedJob"
