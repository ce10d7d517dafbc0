from django.apps import AppConfig


class JobQueueConfig(AppConfig):
    """The queue (label ``queue``); package ``jobqueue`` not to shadow the stdlib ``queue``."""

    name = "jobqueue"
    label = "queue"
    verbose_name = "Job queue"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from jobqueue.registry import registry

        registry()  # find the job classes at start-up: a bad CORE4_JOB_PACKAGES fails now
