"""migrate leaves the database ready: role standard_user, and admin from CORE4_ADMIN_PASSWORD."""

import io
from contextlib import redirect_stdout

from accounts.models import Role, User
from accounts.setup import STANDARD_PERMS, ensure_builtins


def test_standard_user_exists_after_migrate(db):
    role = Role.objects.get(name="standard_user")
    assert role.perm == sorted(STANDARD_PERMS) or sorted(role.perm) == sorted(STANDARD_PERMS)
    assert not User.objects.filter(pk=role.pk).exists()


def test_no_admin_without_password(db, settings):
    settings.CORE4_ADMIN_PASSWORD = ""
    out = io.StringIO()
    with redirect_stdout(out):
        ensure_builtins()
    assert not User.objects.filter(name="admin").exists()
    assert "CORE4_ADMIN_PASSWORD is not set" in out.getvalue()


def test_admin_created_then_updated(db, settings):
    settings.CORE4_ADMIN_PASSWORD = "first"
    with redirect_stdout(io.StringIO()):
        ensure_builtins()
    admin = User.objects.get(name="admin")
    assert admin.check_password("first") and admin.perm == ["cop"]
    etag = admin.etag
    admin.perm = []
    admin.is_active = False
    admin.save()
    settings.CORE4_ADMIN_PASSWORD = "second"
    with redirect_stdout(io.StringIO()):
        ensure_builtins()
    admin.refresh_from_db()
    assert admin.check_password("second") and "cop" in admin.perm and admin.is_active
    assert admin.etag != etag
    assert Role.objects.filter(name="standard_user").count() == 1
