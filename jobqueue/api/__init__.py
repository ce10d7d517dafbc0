"""core4's job API (``/core4/api/v1/job*``) and ``/core4/api/v1/system``.

* ``errors`` — the queue's exceptions as API errors, in one place;
* ``presenters`` — jobs, log lines and workers as clients see them, masked per user;
* ``queries`` — the listing's filter and sort, computed on masked names and arguments;
* ``streaming`` — server-sent events following a job;
* ``views`` / ``urls`` — the endpoints.
"""
