"""Create, change and delete users and roles with core4's rules (used by the API and admin).

Errors are Django's ``ValidationError`` (→ 400 with the message; ``EtagConflict`` is one) and
``ObjectDoesNotExist`` (``RoleNotFound`` → 404), so that the REST API (through
``core4api.exceptions``) and the admin forms say the same thing.

Writers name the ``actor`` who asks (``None``: the system, the CLI, the admin site — staff
are administrators). An actor without ``cop`` is a delegated administrator: it may grant only
permissions and roles it holds itself, never ``cop``, and may not touch users or roles that
hold more than it does (Django's ``PermissionDenied`` → 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts.models import (
    MAX_REALNAME,
    Role,
    User,
    validate_email,
    validate_name,
    validate_perm_list,
)
from accounts.permissions import ADMIN
from core4api.ids import is_object_id

DUPLICATE = "name or email exists"
UNSET: Any = object()


class RoleNotFound(ObjectDoesNotExist):
    """An unknown role name or id (→ 404)."""

    def __init__(self, name: str):
        super().__init__(f"role [{name}] not found")


class EtagConflict(ValidationError):
    """The client's etag is not the stored one: someone changed the record meanwhile (→ 400)."""

    def __init__(self, pk: str, etag: str):
        super().__init__(f"update [{pk}] with etag [{etag}] failed")


@dataclass
class Changes:
    """Fields a client asked to set; ``UNSET`` where it did not ask."""

    name: Any = UNSET
    realname: Any = UNSET
    is_active: Any = UNSET
    role: Any = UNSET
    email: Any = UNSET
    password: Any = UNSET
    perm: Any = UNSET


# --- reading ------------------------------------------------------------------------------
def principal(role: Role) -> Role:
    """The most specific object: the ``User`` if this role is a user, else the role."""
    if isinstance(role, User):
        return role
    try:
        return role.user
    except ObjectDoesNotExist:
        return role


def load(pk: object, *, for_update: bool = False) -> Role:
    if not is_object_id(pk):
        raise RoleNotFound(str(pk)[:64].replace("\x00", ""))
    queryset = Role.objects.select_related("user")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    role = queryset.filter(pk=pk).first()
    if role is None:
        raise RoleNotFound(pk)
    return principal(role)


def to_response(role: Role) -> dict[str, Any]:
    role = principal(role)
    data: dict[str, Any] = {
        "_id": role.pk,
        "name": role.name,
        "realname": role.realname or None,
        "is_active": role.is_active,
        "created": role.created,
        "updated": role.updated,
        "etag": role.etag,
        "role": sorted(r.name for r in role.roles.all() if r.pk != role.pk),
        "perm": sorted(role.perm or []),
    }
    if isinstance(role, User):
        data["email"] = role.email
        data["last_login"] = role.last_login
    return data


def detail(role: Role) -> dict[str, Any]:
    data = to_response(role)
    cascaded = role.cascaded_roles()
    data["role_total"] = [r.name for r in cascaded if r.pk != role.pk]
    data["perm_total"] = role.effective_permissions()
    return data


# --- validation ---------------------------------------------------------------------------
def clean_name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError("field [name] must by of type [str]")
    value = value.strip()
    validate_name(value)
    return value


def _clean_realname(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("field [realname] must by of type [str]")
    if len(value) > MAX_REALNAME:
        raise ValidationError(f"field [realname] must not be longer than {MAX_REALNAME}")
    return value.strip()


def clean_email(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("field [email] must by of type [str]")
    value = value.strip().lower()
    if not value:
        return None
    validate_email(value)
    return value


def _clean_password(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError("field [password] must by of type [str]")
    if len(value) > 4096:
        raise ValidationError("field [password] must not be longer than 4096 characters")
    return value


def _clean_perm(value: Any) -> list[str]:
    validate_perm_list(value)
    return sorted(set(value))


def _resolve_roles(names: Any) -> list[Role]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationError("parameter [role] expected as_type [list]")
    wanted = sorted(set(names))
    found = {r.name: r for r in Role.objects.filter(name__in=wanted)}
    for name in wanted:
        if name not in found:
            raise RoleNotFound(name)
    return [found[name] for name in wanted]


def check_unique(name: str | None, email: str | None, exclude_pk: str | None) -> None:
    if name is not None:
        clash = Role.objects.filter(name__iexact=name)
        if exclude_pk:
            clash = clash.exclude(pk=exclude_pk)
        if clash.exists():
            raise ValidationError(DUPLICATE)
    if email is not None:
        clash = User.objects.filter(email__iexact=email)
        if exclude_pk:
            clash = clash.exclude(pk=exclude_pk)
        if clash.exists():
            raise ValidationError(DUPLICATE)


# --- delegation ---------------------------------------------------------------------------
def _is_delegate(actor: Role | None) -> bool:
    return actor is not None and not actor.access.is_admin


def _check_target(actor: Role | None, obj: Role) -> None:
    """A delegate may change only users and roles that hold no more than it does."""
    if not _is_delegate(actor):
        return
    beyond = actor.access.lacks(obj.effective_permissions())
    if beyond:
        raise PermissionDenied(
            f"[{obj.name}] holds more than you do ({', '.join(beyond[:5])}): "
            "only an administrator (cop) may change it"
        )


def _check_grants(actor: Role | None, perms, roles: list[Role]) -> None:
    """A delegate may grant only permissions and roles it holds itself, never ``cop``."""
    if not _is_delegate(actor):
        return
    missing = actor.access.lacks(perms)
    if ADMIN in missing:
        raise PermissionDenied(f"only an administrator may grant [{ADMIN}]")
    if missing:
        raise PermissionDenied(
            f"you may grant only permissions you hold, not [{', '.join(missing[:5])}]"
        )
    held = {role.pk for role in actor.cascaded_roles()}
    for role in roles:
        if role.pk not in held or actor.access.lacks(role.effective_permissions()):
            raise PermissionDenied(f"you may grant only roles you hold, not [{role.name}]")


def _check_update(actor: Role | None, obj: Role, changes: Changes) -> None:
    if not _is_delegate(actor):
        return
    _check_target(actor, obj)
    perms: set[str] = set()
    if changes.perm is not UNSET and changes.perm is not None:
        perms = set(_clean_perm(changes.perm)) - set(obj.perm or [])
    roles: list[Role] = []
    if changes.role is not UNSET and changes.role is not None:
        current = {r.pk for r in obj.roles.all()}
        roles = [r for r in _resolve_roles(changes.role) if r.pk not in current]
    _check_grants(actor, perms, roles)


# --- writing ------------------------------------------------------------------------------
def create(changes: Changes, actor: Role | None = None) -> Role:
    """Create a user (email given) or a role (no email); a password requires an email."""
    if changes.name is UNSET or changes.name is None:
        raise ValidationError("MissingArgumentError: Missing argument name")
    name = clean_name(changes.name)
    realname = _clean_realname(None if changes.realname is UNSET else changes.realname)
    email = clean_email(None if changes.email is UNSET else changes.email)
    password = _clean_password(None if changes.password is UNSET else changes.password)
    perm = _clean_perm([] if changes.perm is UNSET else changes.perm)
    is_active = True if changes.is_active is UNSET else changes.is_active
    if not isinstance(is_active, bool):
        raise ValidationError("parameter [is_active] expected as_type [bool]")
    if password and not email:
        raise ValidationError("user role requires email on creation")
    try:
        with transaction.atomic():
            roles = _resolve_roles([] if changes.role is UNSET else changes.role)
            _check_grants(actor, perm, roles)
            check_unique(name, email, None)
            fields = {"name": name, "realname": realname, "is_active": is_active, "perm": perm}
            if email:
                obj: Role = User(email=email, **fields)
                if password:
                    obj.set_password(password)
                else:  # core4 mails an initial-password link; here an admin sets it later
                    obj.set_unusable_password()
            else:
                obj = Role(**fields)
            obj.save()
            obj.roles.set(roles)
    except IntegrityError as exc:
        raise ValidationError(DUPLICATE) from exc
    return obj


def update(
    pk: str,
    etag: Any,
    changes: Changes,
    *,
    self_service: bool = False,
    actor: Role | None = None,
) -> Role | None:
    """Apply ``changes`` if ``etag`` is current; ``None`` when nothing changed.

    ``self_service`` (the profile) may change realname, email and password only.
    """
    if not isinstance(etag, str):
        raise ValidationError("parameter [etag] expected as_type [str]")
    try:
        with transaction.atomic():
            obj = load(pk, for_update=True)
            if not self_service:
                _check_update(actor, obj, changes)
            if obj.etag != etag:
                raise EtagConflict(obj.pk, etag[:64])
            changed = _apply(obj, changes, self_service)
            if not changed:
                return None
            obj.touch()
            obj.save()
            if changes.role is not UNSET and changes.role is not None and not self_service:
                obj.roles.set(_resolve_roles(changes.role))
    except IntegrityError as exc:
        raise ValidationError(DUPLICATE) from exc
    return obj


def _apply(obj: Role, changes: Changes, self_service: bool) -> bool:
    is_user = isinstance(obj, User)
    changed = False

    def given(value: Any) -> bool:
        return value is not UNSET and value is not None

    if not self_service:
        if given(changes.name):
            name = clean_name(changes.name)
            if name != obj.name:
                check_unique(name, None, obj.pk)
                obj.name, changed = name, True
        if given(changes.is_active):
            if not isinstance(changes.is_active, bool):
                raise ValidationError("parameter [is_active] expected as_type [bool]")
            if changes.is_active != obj.is_active:
                obj.is_active, changed = changes.is_active, True
        if given(changes.perm):
            perm = _clean_perm(changes.perm)
            if perm != sorted(set(obj.perm or [])):
                obj.perm, changed = perm, True
        if given(changes.role):
            wanted = {r.pk for r in _resolve_roles(changes.role)}
            if wanted != {r.pk for r in obj.roles.all()}:
                changed = True
    if given(changes.realname):
        realname = _clean_realname(changes.realname)
        if realname != (obj.realname or ""):
            obj.realname, changed = realname, True
    email = clean_email(changes.email) if given(changes.email) else None
    password = _clean_password(changes.password) if given(changes.password) else None
    if not is_user:
        if email or password:
            raise ValidationError(
                "user role requires email and password: create a user instead of adding "
                "them to a role"
            )
        return changed
    if given(changes.email) and email is None:
        raise ValidationError("user role requires email and password")
    if email and email != obj.email:
        check_unique(None, email, obj.pk)
        obj.email, changed = email, True
    if password:
        obj.set_password(password)  # always a change: new salt
        changed = True
    return changed


def delete(pk: str, etag: Any, actor: Role | None = None) -> None:
    if not isinstance(etag, str):
        raise ValidationError("parameter [etag] expected as_type [str]")
    with transaction.atomic():
        obj = load(pk, for_update=True)
        _check_target(actor, obj)
        if obj.etag != etag:
            raise EtagConflict(obj.pk, etag[:64])
        obj.delete()
