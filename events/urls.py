from django.urls import path

from events import views

urlpatterns = [
    path("jobs/history", views.JobHistoryView.as_view(), name="jobs-history"),
    path("queue/history", views.QueueHistoryView.as_view(), name="queue-history"),
    path("event/history", views.EventHistoryView.as_view(), name="event-history"),
]
