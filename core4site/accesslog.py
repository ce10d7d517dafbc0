"""daphne's access log, with credentials and tokens redacted from query strings.

core4 clients put ``password`` and ``token`` into the query string (the seed session does);
an access log must not keep them. daphne writes its log through an ``AccessLogGenerator``
built from the name ``daphne.cli.AccessLogGenerator`` right after it imported the ASGI
application, so :func:`install` (called by ``core4site.asgi``) swaps in the redacting one for
``daphne core4site.asgi:application`` as much as for ``manage.py up``. With
``CORE4_LOG_FORMAT=json`` each line is a JSON object (:func:`core4site.logs.access_entry`).
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from daphne.access import AccessLogGenerator
from django.conf import settings

from core4site.logs import access_entry

#: Query argument names whose values never reach the log (compared case-insensitively).
SECRET_ARGUMENTS = frozenset(
    {"password", "passwd", "token", "access_token", "refresh", "refresh_token", "secret"}
)
MASK = "***"


def redact(path: str) -> str:
    """``path`` with the values of secret query arguments replaced by ``***``."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    parts = []
    for part in query.split("&"):
        name, eq, _ = part.partition("=")
        secret = eq and unquote_plus(name).strip().lower() in SECRET_ARGUMENTS
        parts.append(f"{name}={MASK}" if secret else part)
    return f"{base}?{'&'.join(parts)}"


class RedactingAccessLogGenerator(AccessLogGenerator):
    """daphne's NCSA-style access log; secrets redacted, each line flushed as written."""

    def __call__(self, protocol, action, details):
        if isinstance(details.get("path"), str):
            details = {**details, "path": redact(details["path"])}
        super().__call__(protocol, action, details)

    def write_entry(self, host, date, request, status=None, length=None, **kwargs):
        if settings.CORE4_LOG_FORMAT == "json":
            self.stream.write(access_entry(host, date, request, status, length) + "\n")
        else:
            super().write_entry(host, date, request, status, length, **kwargs)
        self.stream.flush()


def install() -> None:
    """Make daphne's command line build the redacting access log."""
    import daphne.cli

    daphne.cli.AccessLogGenerator = RedactingAccessLogGenerator
