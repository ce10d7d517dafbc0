from django.apps import AppConfig


class Core4SiteConfig(AppConfig):
    name = "core4site"
    verbose_name = "core4site"

    def ready(self) -> None:
        # RE2 as SQLite's REGEXP: client patterns run in this process on the embedded default
        from django.db.backends.signals import connection_created

        from core4api.patterns import install_sqlite_regexp

        connection_created.connect(install_sqlite_regexp, dispatch_uid="core4api.regexp")
