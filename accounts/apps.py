from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Users and roles"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import revocation
        from accounts.setup import ensure_builtins

        revocation.connect()

        post_migrate.connect(ensure_builtins, sender=self, dispatch_uid="accounts-builtins")
