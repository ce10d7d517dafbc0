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
