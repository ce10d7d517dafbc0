from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import outbox
        from jobqueue import runner
        from jobqueue.signals import SqlOutbox, job_transition, queue_summary, set_sql_outbox

        uid = "events.job_transition"
        job_transition.connect(outbox.on_job_transition, dispatch_uid=uid)
        # enqueues on PostgreSQL write their events in their one statement
        set_sql_outbox(SqlOutbox(uid, outbox.enqueue_ctes, outbox.announce))
        queue_summary.connect(outbox.on_queue_summary, dispatch_uid="events.queue_summary")
        if outbox.flush not in runner.before_exit:  # job processes exit with os._exit
            runner.before_exit.append(outbox.flush)
