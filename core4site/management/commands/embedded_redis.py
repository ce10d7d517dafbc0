"""``manage.py embedded_redis``: run the embedded default's Redis server in the foreground."""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core4site import embedded


class Command(BaseCommand):
    help = "Run the private Redis server of the embedded default (var/redis.sock) until stopped."

    def handle(self, *args, **options):
        if settings.REDIS_URL:
            raise CommandError("REDIS_URL is set: the embedded Redis server is not used")
        path = settings.CORE4_EMBEDDED_REDIS_SOCKET
        if embedded.is_running(path):
            raise CommandError(f"an embedded Redis server already runs on {path}")
        try:
            process = embedded.start(path)
        except embedded.EmbeddedRedisError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"embedded Redis on {path} (pid {process.pid}); Ctrl-C stops it")
        signal.signal(signal.SIGTERM, lambda *_: process.terminate())
        try:
            process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            embedded.stop(process, path)
