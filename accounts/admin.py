"""Django admin for users and roles, validating exactly as the API does (``principals``)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from accounts import principals
from accounts.models import Role, User, validate_perm_list


class PermissionListField(forms.CharField):
    """One permission per line; each validated by the permission engine."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60})

    def prepare_value(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return sorted({line.strip() for line in text.splitlines() if line.strip()})

    def validate(self, value):
        super().validate(value)
        validate_perm_list(value)


class _PrincipalForm(forms.ModelForm):
    perm = PermissionListField(
        required=False, help_text="cop, api://…[/crud], job://…/r|x, app://…"
    )

    def clean_name(self):
        name = principals.clean_name(self.cleaned_data.get("name") or "")
        principals.check_unique(name, None, self.instance.pk)
        return name


class RoleForm(_PrincipalForm):
    class Meta:
        model = Role
        fields = ["name", "realname", "is_active", "perm", "roles"]


class UserForm(_PrincipalForm):
    new_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current password.",
    )

    class Meta:
        model = User
        fields = ["name", "realname", "email", "is_active", "perm", "roles"]

    def clean_email(self):
        email = principals.clean_email(self.cleaned_data.get("email"))
        if email is None:
            raise ValidationError("a user needs an email")
        principals.check_unique(None, email, self.instance.pk)
        return email

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("new_password"):
            self.add_error("new_password", "a new user needs a password")
        return cleaned

    def save(self, commit=True):
        user = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            user.set_password(self.cleaned_data["new_password"])
        if commit:
            user.save()
            self.save_m2m()
        return user


class _PrincipalAdmin(admin.ModelAdmin):
    list_display = ("name", "realname", "is_active", "perm_list", "created", "updated")
    list_filter = ("is_active",)
    search_fields = ("name", "realname")
    readonly_fields = ("id", "etag", "created", "updated", "effective")
    filter_horizontal = ("roles",)

    @admin.display(description="permissions")
    def perm_list(self, obj):
        return ", ".join(obj.perm or [])

    @admin.display(description="effective permissions")
    def effective(self, obj):
        return ", ".join(obj.effective_permissions()) if obj.pk else "-"

    def save_model(self, request, obj, form, change):
        if change:
            obj.touch()  # a new etag: API clients holding the old one get a conflict
        super().save_model(request, obj, form, change)


@admin.register(Role)
class RoleAdmin(_PrincipalAdmin):
    form = RoleForm

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user__isnull=True)


@admin.register(User)
class UserAdmin(_PrincipalAdmin):
    form = UserForm
    list_display = ("name", "realname", "email", "is_active", "perm_list", "last_login")
    search_fields = ("name", "realname", "email")
    readonly_fields = (*_PrincipalAdmin.readonly_fields, "last_login")
    fieldsets = (
        (None, {"fields": ("id", "name", "realname", "email", "new_password", "is_active")}),
        ("Access", {"fields": ("perm", "roles", "effective")}),
        ("Record", {"fields": ("etag", "created", "updated", "last_login")}),
    )
