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

``queue_summary`` is sent by the worker that holds the summary lease every
``CORE4_SUMMARY_INTERVAL`` seconds, outside any transaction, with ``rows``: the raw,
unmasked summary rows ``{"name", "state", "n", "zombie", "wall", "removed", "killed",
"progress"}`` sorted by state, name, and ``author``.
"""

from django.dispatch import Signal

job_transition = Signal()
job_transitions = Signal()
queue_summary = Signal()
