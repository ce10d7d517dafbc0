"""``manage.py runserver`` on daphne, without daphne in every process.

The ``daphne`` app gives ``runserver`` its ASGI server (HTTP and WebSockets), but its
``apps.py`` imports ``daphne.server`` — Twisted, autobahn, pyOpenSSL: ~28 MB of memory and
~120 ms of start-up — in every process that loads Django: the worker, every job process it
forks (a fork costs ~35 µs per MB of the forking process, twice: the copy and the exit), and
every ``manage.py`` command. This app stands in for it: the same ``runserver`` (daphne's own
command class), imported only when ``runserver`` runs. Production servers run the ``daphne``
command, which loads daphne itself.
"""
