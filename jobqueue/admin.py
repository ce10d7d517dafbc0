"""Django admin for the queue: browse jobs, and kill/remove/restart through the transitions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html

from jobqueue import services
from jobqueue.errors import JobError
from jobqueue.models import Job, WorkerRecord


class UnfinishedFilter(admin.SimpleListFilter):
    title = "in queue"
    parameter_name = "queued"

    def lookups(self, request, model_admin):
        return [("yes", "unfinished"), ("no", "finished (history)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(journaled=False)
        if self.value() == "no":
            return queryset.filter(journaled=True)
        return queryset


def _act(modeladmin, request, queryset, action, done: str):
    ok = 0
    for job in queryset:
        try:
            action(job.id, by=request.user.get_username())
            ok += 1
        except JobError as exc:
            modeladmin.message_user(request, f"{job.id}: {exc}", messages.WARNING)
    if ok:
        modeladmin.message_user(request, f"{ok} job(s) {done}", messages.SUCCESS)


@admin.action(description="Kill selected running jobs")
def kill_jobs(modeladmin, request, queryset):
    _act(modeladmin, request, queryset, services.kill, "kill requested")


@admin.action(description="Remove selected jobs")
def remove_jobs(modeladmin, request, queryset):
    _act(modeladmin, request, queryset, services.remove, "removed")


@admin.action(description="Restart selected jobs")
def restart_jobs(modeladmin, request, queryset):
    _act(modeladmin, request, queryset, services.restart, "restarted")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "state", "journaled", "priority", "trial", "enqueued_at",
                    "enqueued_by", "locked_by"]  # fmt: skip
    list_filter = ["state", UnfinishedFilter, "name"]
    search_fields = ["id", "name"]
    ordering = ["-id"]
    actions = [kill_jobs, remove_jobs, restart_jobs]
    readonly_fields = ["stdout_block", "last_error_block"]
    exclude = ["stdout", "last_error"]
    show_full_result_count = False

    @admin.display(description="stdout")
    def stdout_block(self, job: Job):
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", job.stdout or "")

    @admin.display(description="last error")
    def last_error_block(self, job: Job):
        error = job.last_error or {}
        text = error.get("exception", "")
        if error.get("traceback"):
            text += "\n" + "".join(error["traceback"])
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", text)

    def get_readonly_fields(self, request, obj=None):
        # every field is read-only: changes go through the actions (the transitions)
        names = [f.name for f in Job._meta.fields if f.name not in self.exclude]
        return [*names, *self.readonly_fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WorkerRecord)
class WorkerRecordAdmin(admin.ModelAdmin):
    list_display = ["identifier", "hostname", "pid", "started", "heartbeat", "stopped"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
