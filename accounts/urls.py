from django.urls import path

from accounts import views

urlpatterns = [
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("profile", views.ProfileView.as_view(), name="profile"),
    path("roles", views.RoleListView.as_view(), name="roles"),
    path("roles/distinct", views.RoleDistinctView.as_view(), name="roles-distinct"),
    path("roles/<str:pk>", views.RoleDetailView.as_view(), name="role"),
    path("roles/<str:pk>/<str:etag>", views.RoleDetailView.as_view(), name="role-etag"),
]
