"""The permission engine: core4's permission strings, their validation and their meaning.

Strings:

* ``cop`` — administrator, everything allowed;
* ``api://<regex>[/<crud letters>]`` — API access by core4 handler name (no suffix = all methods);
* ``job://<regex>/<r|x>`` — read, or execute (which implies read) jobs by qualified name;
* ``app://<key>`` — free-form, stored; ``mongodb://<db>`` — accepted for compatibility, inert.

Matching is Python ``re.match`` (a prefix match) against the qualified name, as in core4.
This module is pure: it knows nothing of models or requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from django.core.exceptions import ValidationError

ADMIN = "cop"
PROTOCOLS = (
    re.compile(r"^cop$"),
    re.compile(r"^job://[^\s/]+/[xr]$"),
    re.compile(r"^api://[^\s/]+($|/[crud]*$)"),
    re.compile(r"^app://[^\s]+$"),
    re.compile(r"^mongodb://[^\s]+$"),
)
METHOD_LETTER = {
    "GET": "r",
    "HEAD": "r",
    "OPTIONS": "r",
    "CONNECT": "r",
    "TRACE": "r",
    "POST": "c",
    "PUT": "u",
    "PATCH": "u",
    "DELETE": "d",
}
MAX_PERMISSION_LENGTH = 512


def validate_permission(perm: object) -> str:
    """Return ``perm`` if it is a valid permission string, else raise ``ValidationError``."""
    if not isinstance(perm, str):
        raise ValidationError(f"invalid permission protocol [{perm!r}]")
    if len(perm) > MAX_PERMISSION_LENGTH:
        raise ValidationError(
            f"invalid permission protocol [{perm[:40]}…]: longer than {MAX_PERMISSION_LENGTH}"
        )
    if not any(pattern.match(perm) for pattern in PROTOCOLS):
        raise ValidationError(f"invalid permission protocol [{perm}]")
    head, _, _ = perm.partition("://")
    if head in ("api", "job"):
        _compiled(_qual_name_pattern(perm), perm)  # the regex part must compile
    return perm


def validate_permissions(perms: object) -> list[str]:
    if not isinstance(perms, list):
        raise ValidationError("parameter [perm] expected as_type [list]")
    return sorted({validate_permission(p) for p in perms})


def _qual_name_pattern(perm: str) -> str:
    return perm.split("://", 1)[1].split("/", 1)[0]


@lru_cache(maxsize=4096)
def _compiled(pattern: str, perm: str = "") -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValidationError(f"invalid permission protocol [{perm}]: {exc}") from exc


def _matches(pattern: str, qual_name: str) -> bool:
    try:
        return _compiled(pattern).match(qual_name) is not None
    except ValidationError:
        return False  # stored before validation existed: never grants anything


@dataclass(frozen=True)
class Access:
    """What a principal may do, from its effective (cascaded) permissions."""

    perms: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.perms

    def has_api_access(self, name: str, method: str) -> bool:
        """May this principal call the API named ``name`` with HTTP ``method``?"""
        if self.is_admin:
            return True
        letter = METHOD_LETTER.get(method.upper())
        for perm in self.perms:
            if not perm.startswith("api://"):
                continue
            pattern, sep, letters = perm[len("api://") :].partition("/")
            if not _matches(pattern, name):
                continue
            if not sep or (letter and letter in letters.lower()):
                return True
        return False

    def _job_access(self, qual_name: str, rights: str) -> bool:
        if self.is_admin:
            return True
        for perm in self.perms:
            if not perm.startswith("job://"):
                continue
            pattern, _, right = perm[len("job://") :].rpartition("/")
            if right.lower() in rights and _matches(pattern, qual_name):
                return True
        return False

    def can_read_job(self, qual_name: str) -> bool:
        """``job://…/r`` or ``job://…/x`` (execute implies read)."""
        return self._job_access(qual_name, "rx")

    def can_execute_job(self, qual_name: str) -> bool:
        return self._job_access(qual_name, "x")

    def lacks(self, perms: Iterable[str]) -> list[str]:
        """The permissions of ``perms`` this principal may not hand on (delegation).

        An administrator may grant anything; anybody else only permission strings it holds
        itself, and never ``cop``.
        """
        if self.is_admin:
            return []
        return sorted({p for p in perms if p == ADMIN or p not in self.perms})

    @property
    def job_patterns(self) -> tuple[tuple[str, str], ...]:
        """``(regex, right)`` pairs of the ``job://`` permissions (for masking in bulk)."""
        result = []
        for perm in sorted(self.perms):
            if perm.startswith("job://"):
                pattern, _, right = perm[len("job://") :].rpartition("/")
                result.append((pattern, right))
        return tuple(result)


NO_ACCESS = Access()


def access_from(perms: Iterable[str]) -> Access:
    return Access(frozenset(perms))
