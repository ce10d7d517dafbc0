"""What the queue announces. ``jobqueue`` never imports ``events``; ``events`` listens here.

``job_transition`` is sent by ``jobqueue.transitions`` inside the transition's database
transaction, after the job row was written, with keyword arguments:

* ``event`` — the event name (``enqueue_job``, ``request_start_job``, … see jobqueue.states);
* ``job`` — the ``Job`` instance after the change;
* ``counts`` — ``{state: n}`` of unfinished jobs right after the change (no zero entries);
* ``author`` — who caused it: the acting user's name, else the OS user of the process.

``queue_summary`` is sent by the worker that holds the summary lease every
``CORE4_SUMMARY_INTERVAL`` seconds, outside any transaction, with ``rows``: the raw,
unmasked summary rows ``{"name", "state", "n", "zombie", "wall", "removed", "killed",
"progress"}`` sorted by state, name, and ``author``.
"""

from django.dispatch import Signal

job_transition = Signal()
queue_summary = Signal()


class SqlOutbox:
    """How the app that stores ``job_transition`` events writes them in SQL (PostgreSQL),
    so that an enqueue — one job or many — is one statement: the jobs, the counter and
    the events together (``jobqueue.transitions.enqueue_many``). Registered with
    :func:`set_sql_outbox` by that app (``events``) for its ``job_transition`` receiver
    (``dispatch_uid``); used only while that receiver is the only one connected, else every
    job goes through the signal.

    ``ctes(connection)`` returns ``(sql, params)``: CTE text (``name AS (…), …``) that
    inserts one event per row of the CTE ``transition(ord, job_id, counts)`` (``counts``:
    jsonb ``{state: n}`` after that job, as the signal's ``counts``) in ``ord`` order, may
    read the named parameters ``%(event)s``, ``%(author)s`` and ``%(created)s`` besides its
    own ``params``, and defines the CTE ``outbox(id)`` (the new events' ids). Locks it
    takes must be taken after reading ``transition`` (jobs inserted, counter row locked:
    the lock order of every transition).
    ``committed(last_id)`` runs after the commit.
    """

    def __init__(self, dispatch_uid: str, ctes, committed) -> None:
        self.dispatch_uid = dispatch_uid
        self.ctes = ctes
        self.committed = committed


sql_outbox: SqlOutbox | None = None


def set_sql_outbox(outbox: SqlOutbox | None) -> None:
    global sql_outbox  # noqa: PLW0603 - one process-wide registration, set at app ready
    sql_outbox = outbox
