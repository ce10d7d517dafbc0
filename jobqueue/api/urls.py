"""Routes of the job API, mounted under ``/core4/api/v1/`` (core4's ``JobRequest`` dispatch)."""

from django.urls import path

from jobqueue.api import schedules, views

urlpatterns = [
    path("job", views.JobListView.as_view(), name="job"),
    path("job/list", views.JobRegistryView.as_view(), name="job-list"),
    path("job/queue", views.JobQueueView.as_view(), name="job-queue"),
    path("job/journal", views.JobJournalView.as_view(), name="job-journal"),
    path("job/bulk", views.JobBulkView.as_view(), name="job-bulk"),
    path("job/follow/<str:id>", views.JobFollowView.as_view(), name="job-follow"),
    path("job/log/<str:id>", views.JobLogView.as_view(), name="job-log"),
    path("job/detail/<str:id>", views.JobDetailView.as_view(), name="job-detail-alias"),
    path("job/<str:action>/<str:id>", views.JobActionView.as_view(), name="job-action"),
    path("job/<str:id>", views.JobDetailView.as_view(), name="job-detail"),
    path("schedule", schedules.ScheduleListView.as_view(), name="schedule"),
    path("schedule/<str:id>/run", schedules.ScheduleRunView.as_view(), name="schedule-run"),
    path("schedule/<str:id>", schedules.ScheduleDetailView.as_view(), name="schedule-detail"),
    path("system", views.SystemView.as_view(), name="system"),
    path("system/", views.SystemView.as_view(schema=None), name="system-slash"),
    path(
        "system/worker/<path:identifier>/<str:action>",
        views.WorkerControlView.as_view(),
        name="system-worker",
    ),
    path("system/<str:action>", views.MaintenanceView.as_view(), name="system-maintenance"),
]
