from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.views import LoginView
from core4api import errors
from core4site import health, metrics
from core4site.views import ApiRootView

API = "core4/api/v1/"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("core4/api/login", LoginView.as_view(), name="login-legacy"),
    path(API, ApiRootView.as_view(), name="api-root"),
    path(API, include("accounts.urls")),
    path(API, include("events.urls")),
    path(API, include("jobqueue.api.urls")),
    path(API + "schema/", SpectacularAPIView.as_view(), name="schema"),
    path(API + "schema/swagger/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path(API + "schema/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # monitoring (README "Monitoring"): outside the core4 API, not in its schema
    path("metrics", metrics.MetricsView.as_view(), name="metrics"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("", include("dashboard.urls")),
]

handler404 = errors.not_found
handler500 = errors.server_error
handler400 = errors.bad_request
handler403 = errors.forbidden
