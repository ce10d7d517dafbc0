"""Built-in principals, made by ``migrate``: user ``admin`` (``cop``) and role ``standard_user``."""

from __future__ import annotations

import sys

from django.conf import settings
from django.db import transaction

STANDARD_USER = "standard_user"
STANDARD_PERMS = [
    "api://core4.api.v1.request.standard.*",
    "api://core4.api.v1.server.*",
    "api://core4.api.v1.request.store.*/u",
]


def ensure_builtins(sender=None, verbosity: int = 1, using: str = "default", **kwargs) -> None:
    from accounts.models import Role, User

    out = sys.stdout
    with transaction.atomic(using=using):
        role, created = Role.objects.using(using).get_or_create(
            name=STANDARD_USER,
            defaults={"realname": "standard user group", "perm": STANDARD_PERMS},
        )
        if created and verbosity:
            out.write(f"  Created role {STANDARD_USER}.\n")

        name = settings.CORE4_ADMIN_USERNAME
        password = settings.CORE4_ADMIN_PASSWORD
        admin = User.objects.using(using).filter(name__iexact=name).first()
        if not password:
            if admin is None and verbosity:
                out.write(
                    f"  No user {name!r} created: CORE4_ADMIN_PASSWORD is not set. "
                    "Set it and run `python manage.py migrate` again.\n"
                )
            return
        if admin is None:
            admin = User(
                name=name, realname="admin user", email=settings.CORE4_ADMIN_EMAIL, perm=["cop"]
            )
            admin.set_password(password)
            admin.save(using=using)
            if verbosity:
                out.write(
                    f"  Created user {name!r} (cop) with the password of CORE4_ADMIN_PASSWORD.\n"
                )
            return
        changed = False
        if not admin.check_password(password):
            admin.set_password(password)
            changed = True
        if "cop" not in admin.perm:
            admin.perm = sorted({*admin.perm, "cop"})
            changed = True
        if not admin.is_active:
            admin.is_active = True
            changed = True
        if changed:
            admin.touch()
            admin.save(using=using)
            if verbosity:
                out.write(f"  Updated user {name!r} from CORE4_ADMIN_PASSWORD.\n")
