"""Django settings of the django-tasks-db peer (its own database ``peers_djtasks``)."""

import os

PG = os.environ.get("PEERS_PG_HOST", "127.0.0.1")
SECRET_KEY = "peers-benchmark-only"
INSTALLED_APPS = ["django_tasks", "django_tasks_db"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "peers_djtasks",
        "USER": "postgres",
        "HOST": PG,
        "PORT": 5432,
    }
}
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
USE_TZ = True
