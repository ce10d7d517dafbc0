"""Django admin for the queue: browse jobs, and kill/remove/restart through the transitions;
manage schedules through the schedule services (``jobqueue.schedules``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from jobqueue import schedules, services
from jobqueue.errors import JobError
from jobqueue.models import Job, Schedule, WorkerRecord


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


def _act(modeladmin, request, queryset, action, done: str, *, noun: str = "job"):
    """``action(pk, by=user)`` for each selected row: a warning per refusal, one count."""
    ok = 0
    for row in queryset:
        try:
            action(row.id, by=request.user.get_username())
            ok += 1
        except JobError as exc:
            modeladmin.message_user(request, f"{row.id}: {exc}", messages.WARNING)
    if ok:
        modeladmin.message_user(request, f"{ok} {noun}(s) {done}", messages.SUCCESS)


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


# --- schedules ----------------------------------------------------------------------------------
class ScheduleForm(forms.ModelForm):
    """The schedule's fields, validated by ``jobqueue.schedules`` (as REST and coco are);
    ``etag`` rides along hidden, so a change made meanwhile elsewhere is a conflict."""

    etag = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Schedule
        fields = ["name", "args", "cron", "interval", "timezone", "enabled", "reason"]
        help_texts = {
            "name": "the job's qualified name (a registered job class)",
            "cron": "five fields, e.g. */5 * * * * (evaluated in the time zone) — or an interval",
            "interval": "seconds — or a cron expression",
            "reason": "why it is disabled",
        }

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["etag"].initial = self.instance.etag

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk and data.get("etag") not in (None, self.instance.etag):
            raise forms.ValidationError(
                f"schedule [{self.instance.pk}] was changed meanwhile: reload it and try again"
            )
        fields = {key: data.get(key) for key in schedules.FIELDS if key != "name"}
        try:
            schedules.validate(data.get("name"), fields)
        except JobError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.action(description="Enable selected schedules")
def enable_schedules(modeladmin, request, queryset):
    _act(modeladmin, request, queryset, schedules.enable, "enabled", noun="schedule")


@admin.action(description="Disable selected schedules")
def disable_schedules(modeladmin, request, queryset):
    _act(modeladmin, request, queryset,
         lambda pk, by: schedules.disable(pk, f"disabled in the admin by {by}", by=by),
         "disabled", noun="schedule")  # fmt: skip


@admin.action(description="Run selected schedules now")
def run_schedules(modeladmin, request, queryset):
    _act(modeladmin, request, queryset, schedules.run_now, "enqueued", noun="schedule")


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    """Runtime schedules are created, changed and deleted here through the schedule services;
    class schedules (``source=class``) are shown read-only."""

    form = ScheduleForm
    list_display = ["id", "name", "when", "timezone", "enabled", "source", "next_run", "last_run",
                    "last_outcome"]  # fmt: skip
    list_filter = ["enabled", "source", "last_outcome"]
    search_fields = ["id", "name"]
    actions = [enable_schedules, disable_schedules, run_schedules]
    fields = [*schedules.FIELDS, "etag", "source", "next_run", "last_run", "last_outcome",
              "last_job_id", "created_at", "created_by", "updated_at"]  # fmt: skip
    readonly_fields = ["source", "next_run", "last_run", "last_outcome", "last_job_id",
                       "created_at", "created_by", "updated_at"]  # fmt: skip

    @admin.display(description="schedule")
    def when(self, schedule: Schedule) -> str:
        return schedules.describe(schedule)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.source == Schedule.CLASS:
            return False  # shown, not changed: it comes from the job class
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.source == Schedule.CLASS:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        by = request.user.get_username()
        fields = {key: form.cleaned_data.get(key) for key in schedules.FIELDS}
        if change:
            current = Schedule.objects.get(pk=obj.pk).etag  # the form checked it (clean)
            saved = schedules.update(obj.pk, current, by=by, **fields)
            if saved is None:
                return
        else:
            saved = schedules.create(fields.pop("name"), by=by, **fields)
        for field in Schedule._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))

    def delete_model(self, request, obj):
        schedules.delete(obj.pk, obj.etag, by=request.user.get_username())

    def delete_queryset(self, request, queryset):
        for schedule in queryset:
            try:
                self.delete_model(request, schedule)
            except JobError as exc:
                self.message_user(request, f"{schedule.id}: {exc}", messages.WARNING)
