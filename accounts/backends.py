"""Password authentication for Django (admin login) and for the API's credential sources."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend


class Core4Backend(ModelBackend):
    """Case-insensitive user names; inactive users cannot log in (Django's rule)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        from accounts.models import User

        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            return None
        if len(username) > 256 or len(password) > 4096:
            return None
        try:
            user = User.objects.get_by_natural_key(username)
        except User.DoesNotExist:
            User().set_password(password)  # same time as a real check: no user enumeration
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id):
        from accounts.models import User

        user = User.objects.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
