"""Taking rights away reaches open sockets and streams (within 2 s).

What changes a user's rights — its deletion or deactivation, a password change, "log out
everywhere", a change of its own permissions or roles, or of any role it reaches (also a
role's deletion or deactivation) — is noticed here through the models' signals, and once the
transaction committed the ids of the affected users are broadcast over the channel layer to
the group :data:`ACCESS_GROUP` as ``{"type": "access.changed", "users": [...]}``.

Whoever holds open connections joins that group and re-evaluates the sockets of those users
(``events.hub``: close with 4401 when :func:`still_allowed` says no, else mask anew), and also
re-checks every socket each ``CORE4_ACCESS_RECHECK`` seconds as the backstop for changes the
signals do not see (``QuerySet.update``, a lost broadcast). Server-sent event streams poll
:func:`stream_guard` instead.

A password change and deactivation also bump the user's token generation
(:func:`bump_generation`), so every token issued before is refused (:mod:`accounts.sessions`).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import F
from django.db.models.signals import m2m_changed, post_save, pre_delete, pre_save

from accounts.models import Role, User
from accounts.sessions import session_problem

log = logging.getLogger(__name__)

#: The channel-layer group of everything that holds open connections.
ACCESS_GROUP = "core4.access"
ACCESS_CHANGED = "access.changed"
SEND_TIMEOUT = 5.0
_PENDING_ATTR = "_core4_revocation"


# --- who is affected ----------------------------------------------------------------------------
def users_reaching(role_ids: Iterable[str]) -> set[str]:
    """Ids of the users among ``role_ids`` and of every user that reaches one of them."""
    through = Role.roles.through
    seen = set(role_ids)
    frontier = list(seen)
    while frontier:
        members = through.objects.filter(to_role_id__in=frontier).values_list(
            "from_role_id", flat=True
        )
        frontier = [pk for pk in set(members) if pk not in seen]
        seen.update(frontier)
    return set(User.objects.filter(pk__in=seen).values_list("pk", flat=True))


def changed(role_ids: Iterable[str], using: str = "default") -> None:
    """The rights of ``role_ids`` (and so of every user reaching them) changed: announce the
    affected users once the current transaction commits."""
    users = users_reaching(role_ids)
    if users:
        transaction.on_commit(lambda: broadcast(users), using=using)


# --- the token generation -----------------------------------------------------------------------
def bump_generation(user: User) -> None:
    """Revoke every token of ``user`` issued so far (and close its sockets and streams)."""
    User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
    user.token_generation = (
        User.objects.filter(pk=user.pk).values_list("token_generation", flat=True).first() or 0
    )
    transaction.on_commit(lambda: broadcast([user.pk]))


def logout_everywhere(user: User) -> None:
    bump_generation(user)
    log.info("user [%s] logged out everywhere", user.name)


# --- checks for open connections ----------------------------------------------------------------
def load_users(user_ids: Iterable[str]) -> dict[str, User]:
    """The current users of ``user_ids`` with their effective permissions loaded (absent:
    deleted)."""
    users = {user.pk: user for user in User.objects.filter(pk__in=list(user_ids))}
    for user in users.values():
        _ = user.access
    return users


def still_allowed(user: User | None, token=None) -> str | None:
    """Why a connection of ``user`` opened with ``token`` must end (in words), or ``None``."""
    return session_problem(user, token)


def stream_guard(user: User, token=None, api: tuple[str, str] | None = None) -> Callable:
    """A blocking check for a long response of ``user``: ``guard(job_name)`` is true while the
    user may still read that job (and call the API ``api = (handler, method)``)."""
    user_id = user.pk

    def guard(job_name: str) -> bool:
        current = load_users([user_id]).get(user_id)
        if still_allowed(current, token) is not None:
            return False
        if api is not None and not current.access.has_api_access(*api):
            return False
        return current.access.can_read_job(job_name)

    return guard


# --- broadcasting -------------------------------------------------------------------------------
class _Sender:
    """One event loop thread per process that sends the broadcasts (requests do not wait;
    a short-lived process waits for them at exit, up to ``SEND_TIMEOUT``)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pending: set[concurrent.futures.Future] = set()
        threading.Thread(
            target=self.loop.run_forever, name="accounts-revocation", daemon=True
        ).start()
        atexit.register(self.flush)

    def send(self, message: dict) -> None:
        future = asyncio.run_coroutine_threadsafe(_group_send(message), self.loop)
        self.pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future) -> None:
        self.pending.discard(future)
        _report(future)

    def flush(self, timeout: float = SEND_TIMEOUT) -> None:
        concurrent.futures.wait(list(self.pending), timeout=timeout)


_senders: dict[int, _Sender] = {}  # by process id: a forked child starts its own
_sender_lock = threading.Lock()


async def _group_send(message: dict) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is not None:
        await asyncio.wait_for(layer.group_send(ACCESS_GROUP, message), SEND_TIMEOUT)


def _report(future) -> None:
    exc = future.exception()
    if exc is not None:
        log.warning(
            "accounts: access change not broadcast (%s: %s); open sockets see it on their "
            "next periodic re-check",
            type(exc).__name__,
            exc,
        )


def broadcast(user_ids: Iterable[str]) -> None:
    message = {"type": ACCESS_CHANGED, "users": sorted(set(user_ids))}
    with _sender_lock:
        sender = _senders.get(os.getpid())
        if sender is None:
            _senders.clear()
            sender = _senders[os.getpid()] = _Sender()
    sender.send(message)


# --- signal receivers ---------------------------------------------------------------------------
def _only_login(update_fields) -> bool:
    return update_fields is not None and set(update_fields) <= {"last_login"}


def on_pre_save(sender, *, instance: Role, raw=False, update_fields=None, using="default", **kw):
    """Notice a password change or a deactivation of a user (bumps its generation)."""
    if raw or not isinstance(instance, User) or instance._state.adding:
        return
    bump = instance._password is not None  # set_password() was called: a new password
    if not bump and (update_fields is None or "is_active" in update_fields):
        was_active = (
            User.objects.using(using).filter(pk=instance.pk).values_list("is_active", flat=True)
        ).first()
        bump = bool(was_active) and not instance.is_active
    setattr(instance, _PENDING_ATTR, bump)


def on_post_save(
    sender, *, instance: Role, created=False, raw=False, update_fields=None, using="default", **kw
):
    if raw or created or _only_login(update_fields):
        return
    if getattr(instance, _PENDING_ATTR, False):
        setattr(instance, _PENDING_ATTR, False)
        bump_generation(instance)
    changed([instance.pk], using)


def on_roles_changed(
    sender, *, instance: Role, action: str, reverse: bool, pk_set=None, using="default", **kw
):
    """``Role.roles`` changed: from ``instance`` (forward) or to it (``reverse``)."""
    if action == "pre_clear" and reverse:  # the members are gone after the clear
        members = Role.roles.through.objects.filter(to_role_id=instance.pk)
        setattr(instance, _PENDING_ATTR, list(members.values_list("from_role_id", flat=True)))
    elif action in ("post_add", "post_remove", "post_clear"):
        if not reverse:
            changed([instance.pk], using)
        elif action == "post_clear":
            changed(getattr(instance, _PENDING_ATTR, None) or [], using)
        else:
            changed(pk_set or [], using)


def on_pre_delete(sender, *, instance: Role, using="default", **kw):
    changed([instance.pk], using)  # computed now: the links are gone after the delete


def connect() -> None:
    through = Role.roles.through
    for model in (Role, User):
        label = model.__name__.lower()
        pre_save.connect(on_pre_save, sender=model, dispatch_uid=f"revocation-pre-save-{label}")
        post_save.connect(on_post_save, sender=model, dispatch_uid=f"revocation-save-{label}")
        pre_delete.connect(on_pre_delete, sender=model, dispatch_uid=f"revocation-del-{label}")
    m2m_changed.connect(on_roles_changed, sender=through, dispatch_uid="revocation-roles")
