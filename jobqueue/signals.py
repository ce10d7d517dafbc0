"""What the queue announces. ``jobqueue`` never imports ``events``; ``events`` listens here.

``job_transition`` is sent by ``jobqueue.transitions`` inside the transition's database
transaction, after the job row was written, with keyword arguments:

* ``event`` — the event name (``enqueue_job``, ``request_start_job``, … see jobqueue.states);
* ``job`` — the ``Job`` instance after the change;
* ``counts`` — ``{state: n}`` of unfinished jobs right after the change (no zero entries);
* ``author`` — who caused it: the acting user's name, else the OS user of the process.

``job_transitions`` is sent by transitions that change many jobs in one transaction (the
scheduler's ``enqueue_many``) *before* their ``job_transition`` signals, with ``items``: a
list of ``(event, job, counts)`` as above, in order, and ``author``. A receiver that handles
it (the events app: one INSERT for all their events) gets each item's ``job_transition``
again with ``batched=True`` and ignores those; every other receiver keeps seeing every
transition through ``job_transition``. The transitions of a worker's turn
(``transitions.batch``) are sent this way too, together at the end of the turn's
transaction, each with a copy of its job as it was after that transition.

``job_transition_statement`` (PostgreSQL) lets a receiver write its part of a transition in
the transition's own SQL statement — one round trip for the job, the counters and, say, the
event row. Transitions that are written as one statement (``enqueue_job``) send it before
they write, with ``event``, ``job`` (the ``Job`` about to be written; its ``pk`` is set) and
``author``; a receiver returns a :class:`StatementPart` (or None). After the statement, still
in the transaction, each part's ``done`` gets its result, and ``job_transition`` is sent with
``batched=True``: a receiver that wrote its part ignores that one, like a ``job_transitions``
receiver does; every other receiver handles it as any ``job_transition``. When every
``job_transition`` receiver is one that a part names in ``replaces`` and the caller has no
transaction open, the statement runs on its own, in autocommit — one round trip, no
``BEGIN``/``COMMIT``; ``done`` then runs after its commit (an ``on_commit`` runs at once).

``job_transitions_statement`` (PostgreSQL) is the same for the transitions of a worker's
turn (``transitions.batch``): sent at the turn's end, before its last statement (the job
writes left for the end, the counter shifts, the ``NOTIFY``), with ``items``: a list of
``(event, job, counts, author)``, in order. A receiver returns a :class:`StatementPart`
(or None) whose CTEs write its part of all of them in that statement; they do not read
``counts`` (each item has its own). When every ``job_transitions`` receiver is replaced by
a part, the statement carries the parts and ``job_transitions`` is not sent (each item's
``job_transition`` is, with ``batched=True``, as always); else no part is used and the turn
sends ``job_transitions`` as described above.

``queue_summary`` is sent by the worker that holds the summary lease every
``CORE4_SUMMARY_INTERVAL`` seconds, outside any transaction, with ``rows``: the raw,
unmasked summary rows ``{"name", "state", "n", "zombie", "wall", "removed", "killed",
"progress"}`` sorted by state, name, and ``author``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.dispatch import Signal


@dataclass(frozen=True)
class StatementPart:
    """A receiver's part of a transition's one statement (``job_transition_statement``).

    ``sql``: common table expressions (``name AS (...)``, comma separated; names start with
    the receiver's own prefix) with ``%s`` placeholders for ``params``, in order. They may
    read the CTE ``counts`` — one row: ``queue`` (jsonb, the counts after the change, zero
    states omitted) and ``total`` (their sum) — and anything that must follow the job's and
    the counters' write (locks) should read it: it is formed after both. ``result`` is the
    (CTE, column) whose value the statement returns for ``done``, called after the statement
    ran, in the transaction (e.g. to register an ``on_commit``). ``replaces``: the
    ``dispatch_uid`` of the receiver's own ``job_transition`` receiver, which ignores the
    ``batched`` signal of a transition it wrote as a part (see above: autocommit).
    """

    sql: str
    params: list[Any]
    result: tuple[str, str]
    done: Callable[[Any], None]
    replaces: str | None = None


job_transition = Signal()
job_transitions = Signal()
job_transition_statement = Signal()
job_transitions_statement = Signal()
queue_summary = Signal()
