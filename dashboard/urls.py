"""Routes of the dashboard, mounted at the site root."""

from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("login", views.login, name="login"),
    path("logout", views.logout, name="logout"),
    path("dashboard/access", views.AccessView.as_view(), name="access"),
]
