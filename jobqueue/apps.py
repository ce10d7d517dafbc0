from django.apps import AppConfig


class JobQueueConfig(AppConfig):
    """The queue (label ``queue``); package ``jobqueue`` not to shadow the stdlib ``queue``."""

    name = "jobqueue"
    label = "queue"
    verbose_name = "Job queue"
    default_auto_field = "django.db.models.BigAutoField"
