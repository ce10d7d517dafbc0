"""Roles and users.

As in core4, a user *is* a role that has an email and a password: ``User`` extends ``Role``
(multi-table inheritance). Names are therefore unique across users and roles at the database
level, ids are shared, and ``/core4/api/v1/roles`` pages both from one table. Roles nest
(``roles``); a principal's effective permissions are its own plus those of every active role
it reaches (cycles tolerated, inactive roles neither counted nor traversed).
"""

from __future__ import annotations

import re
from functools import cached_property

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from accounts.permissions import Access, access_from, validate_permission
from core4api.ids import object_id, utcnow

NAME_PATTERN = r"^[^\s]+$"
EMAIL_PATTERN = r"^[_a-z0-9-+]+(\.[_a-z0-9-+]+)*@[a-z0-9-]+(\.[a-z0-9-]+)*(\.[a-z]{2,24})$"
MAX_NAME = 128
MAX_REALNAME = 256
MAX_EMAIL = 254
MAX_PERMS = 500


def validate_name(value: object) -> None:
    if not isinstance(value, str) or not re.match(NAME_PATTERN, value):
        raise ValidationError(f"field [name] must match [{NAME_PATTERN}]")
    if len(value) > MAX_NAME:
        raise ValidationError(f"field [name] must not be longer than {MAX_NAME} characters")


def validate_email(value: object) -> None:
    if not isinstance(value, str) or not re.match(EMAIL_PATTERN, value):
        raise ValidationError(f"field [email] must match [{EMAIL_PATTERN}]")
    if len(value) > MAX_EMAIL:
        raise ValidationError(f"field [email] must not be longer than {MAX_EMAIL} characters")


def validate_perm_list(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("parameter [perm] expected as_type [list]")
    if len(value) > MAX_PERMS:
        raise ValidationError(f"field [perm] must not hold more than {MAX_PERMS} permissions")
    for perm in value:
        validate_permission(perm)


class Role(models.Model):
    id = models.CharField(primary_key=True, max_length=24, default=object_id, editable=False)
    name = models.CharField(max_length=MAX_NAME, unique=True, validators=[validate_name])
    realname = models.CharField(max_length=MAX_REALNAME, blank=True, default="")
    is_active = models.BooleanField(default=True)
    perm = models.JSONField(default=list, blank=True, validators=[validate_perm_list])
    roles = models.ManyToManyField(
        "self", symmetrical=False, related_name="members", blank=True, verbose_name="roles"
    )
    etag = models.CharField(max_length=24, default=object_id, editable=False)
    created = models.DateTimeField(default=utcnow, editable=False)
    updated = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="role_name_ci_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_user(self) -> bool:
        return isinstance(self, User) or User.objects.filter(pk=self.pk).exists()

    def touch(self) -> None:
        """Record an effective change: new etag, new ``updated`` (core4's optimistic locking)."""
        self.etag = object_id()
        self.updated = utcnow()

    # --- cascade ------------------------------------------------------------------------
    def cascaded_roles(self) -> list[Role]:
        """Every active role reachable from this one (not itself), depth-first, cycles safe."""
        through = Role.roles.through
        seen = {self.pk}
        found: dict[str, Role] = {}
        frontier = [self.pk]
        while frontier:
            edges = (
                through.objects.filter(from_role_id__in=frontier, to_role__is_active=True)
                .exclude(to_role_id__in=seen)
                .select_related("to_role")
            )
            frontier = []
            for edge in edges:
                role = edge.to_role
                if role.pk not in seen:
                    seen.add(role.pk)
                    found[role.pk] = role
                    frontier.append(role.pk)
        return sorted(found.values(), key=lambda r: r.name)

    def effective_permissions(self) -> list[str]:
        perms = set(self.perm or [])
        for role in self.cascaded_roles():
            perms.update(role.perm or [])
        return sorted(perms)

    @cached_property
    def access(self) -> Access:
        """Effective permissions, computed once per loaded object (i.e. once per request)."""
        if not self.is_active:
            return access_from(())
        return access_from(self.effective_permissions())


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> User:
        return self.get(name__iexact=username)

    def create_user(self, name: str, email: str, password: str | None = None, **fields) -> User:
        user = self.model(name=name, email=self.normalize_email(email).lower(), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, name: str, email: str, password: str | None = None, **fields):
        fields.setdefault("perm", ["cop"])
        return self.create_user(name, email, password, **fields)


class User(Role, AbstractBaseUser):
    """A role with an email and a password: it can log in."""

    email = models.CharField(max_length=MAX_EMAIL, unique=True, validators=[validate_email])
    #: Tokens carry the generation they were issued in; bumping it revokes them all
    #: (password change, deactivation, "log out everywhere": :mod:`accounts.sessions`).
    token_generation = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "name"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["id"]

    @property
    def username(self) -> str:
        return self.name

    # Django admin integration: administrators (``cop``) are staff and superusers.
    @property
    def is_staff(self) -> bool:
        return self.is_active and self.access.is_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_staff

    def has_perm(self, perm: str, obj=None) -> bool:
        return self.is_staff

    def has_perms(self, perm_list, obj=None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_staff
