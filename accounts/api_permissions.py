"""One DRF permission class for core4's ``api://`` permissions, and ``job://`` helpers.

A view names its core4 handler in ``core4_name``; stored core4
permissions such as ``api://core4.api.v1.request.queue.history.*`` keep working because the
names are core4's. Unauthenticated → 401, authenticated without permission → 403.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from accounts.permissions import NO_ACCESS, Access


def access_of(user) -> Access:
    """Effective access of a request's user (anonymous users have none)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return NO_ACCESS
    return user.access


class HasCore4APIAccess(BasePermission):
    message = "Forbidden"

    def has_permission(self, request, view) -> bool:
        name = getattr(view, "core4_name", None)
        if not name:
            return False  # a view must say which core4 handler it is
        return access_of(request.user).has_api_access(name, request.method)


def can_read_job(user, qual_name: str) -> bool:
    return access_of(user).can_read_job(qual_name)


def can_execute_job(user, qual_name: str) -> bool:
    return access_of(user).can_execute_job(qual_name)
