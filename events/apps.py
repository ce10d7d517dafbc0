from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import outbox
        from jobqueue import runner
        from jobqueue.signals import (
            job_transition,
            job_transition_statement,
            job_transitions,
            job_transitions_statement,
            queue_summary,
        )

        job_transition.connect(outbox.on_job_transition, dispatch_uid=outbox.TRANSITION_UID)
        job_transitions.connect(outbox.on_job_transitions, dispatch_uid=outbox.TRANSITIONS_UID)
        job_transitions_statement.connect(
            outbox.on_job_transitions_statement, dispatch_uid="events.job_transitions_statement"
        )
        job_transition_statement.connect(
            outbox.on_job_transition_statement, dispatch_uid="events.job_transition_statement"
        )
        queue_summary.connect(outbox.on_queue_summary, dispatch_uid="events.queue_summary")
        if outbox.flush not in runner.before_exit:  # job processes exit with os._exit
            runner.before_exit.append(outbox.flush)
