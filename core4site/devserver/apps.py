from django.apps import AppConfig


class DevServerConfig(AppConfig):
    """Listed before ``django.contrib.staticfiles``: its ``runserver`` wins (the first app
    that has a command gives it), as the ``daphne`` app's would."""

    name = "core4site.devserver"
    label = "core4_devserver"
    verbose_name = "runserver on daphne"
