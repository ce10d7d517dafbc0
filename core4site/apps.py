"""The project's app: at start-up, product processes join the channel layer.

Without ``REDIS_URL`` the first process that needs the embedded Redis starts it (see
``core4site.embedded``); with ``REDIS_URL`` each such process checks that the server
answers. Either way a process that cannot reach the layer says so at start, on stderr:
events still arrive (read from the database), summaries and instant wake-ups do not.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

log = logging.getLogger(__name__)

#: ``manage.py`` commands that publish to or read from the channel layer. ``up`` joins
#: explicitly (it must fail, not warn); migrate, check, shell, collectstatic… never start it.
LAYER_COMMANDS = frozenset({"runserver", "worker", "enqueue", "coco"})
#: ASGI servers that load ``core4site.asgi`` (``daphne …`` or ``python -m daphne …``).
ASGI_SERVERS = frozenset({"daphne", "uvicorn", "hypercorn", "gunicorn"})


def uses_layer(argv: list[str]) -> str | None:
    """The name of the product process ``argv`` starts if it uses the layer, else None."""
    if not argv:
        return None
    program = Path(argv[0])
    for name in (program.name, program.parent.name):
        if name in ASGI_SERVERS:
            return name
    if program.name == "manage.py" and len(argv) > 1 and argv[1] in LAYER_COMMANDS:
        if {"-h", "--help"} & set(argv[2:]):
            return None
        return argv[1]
    return None


def join_layer(label: str) -> bool:
    """Make sure this process can reach the channel layer; say so loudly if it cannot."""
    from core4site import embedded

    if settings.REDIS_URL:
        import redis

        try:
            client = redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=3
            )
            client.ping()
            client.close()
            return True
        except (redis.RedisError, OSError, ValueError) as exc:
            problem = f"REDIS_URL ({settings.REDIS_URL.split('@')[-1]}) does not answer: {exc}"
    else:
        socket_path = settings.CORE4_EMBEDDED_REDIS_SOCKET
        try:
            started = embedded.ensure(
                socket_path, label=label, linger=settings.CORE4_EMBEDDED_REDIS_LINGER
            )
        except (embedded.EmbeddedRedisError, OSError) as exc:
            problem = f"the embedded Redis on {socket_path} could not be started: {exc}"
        else:
            if started:
                log.info(
                    "started the embedded Redis on %s (it stops when the last process using "
                    "it has exited)",
                    socket_path,
                )
            return True
    sys.stderr.write(
        f"\n*** core4site [{label}]: NO CHANNEL LAYER — {problem}\n"
        "*** Live events still arrive (read from the database), but queue summaries and\n"
        '*** instant wake-ups do not. See README "The channel layer".\n\n'
    )
    sys.stderr.flush()
    return False


class Core4SiteConfig(AppConfig):
    name = "core4site"
    verbose_name = "core4site"

    def ready(self) -> None:
        # RE2 as SQLite's REGEXP: client patterns run in this process on the embedded default
        from django.db.backends.signals import connection_created

        from core4api.patterns import install_sqlite_regexp

        connection_created.connect(install_sqlite_regexp, dispatch_uid="core4api.regexp")
        label = uses_layer(sys.argv)
        if label is not None:
            join_layer(label)
