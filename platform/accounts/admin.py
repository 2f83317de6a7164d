from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Model
from django.http import HttpRequest

from accounts.models import ApiClient, ApiToken, AuditLog, User, WebhookSecret
from accounts.services import ClientError, callback_url_checked


@admin.register(User)
class ProvenantUserAdmin(UserAdmin):
    list_filter = ("groups", "is_staff", "is_superuser", "is_active")


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    extra = 0
    can_delete = False


class ApiClientForm(forms.ModelForm):
    callback_url = forms.URLField(max_length=2000, required=False, assume_scheme="https")

    class Meta:
        model = ApiClient
        fields = ("name", "callback_url", "is_active")

    def clean_callback_url(self) -> str:
        try:
            url, _ = callback_url_checked(self.cleaned_data["callback_url"])
        except ClientError as error:
            raise forms.ValidationError(str(error), code=error.code) from None
        return url


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ("slug", "name", "is_active", "callback_url", "created_at")
    list_filter = ("is_active",)
    search_fields = ("slug", "name")
    readonly_fields = ("slug", "user", "created_at")
    inlines = [ApiTokenInline]


@admin.register(WebhookSecret)
class WebhookSecretAdmin(admin.ModelAdmin):
    list_display = ("client", "created_at", "expires_at")
    readonly_fields = ("client", "secret", "created_at")


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "target_type", "target_id")
    list_filter = ("action", "target_type")
    search_fields = ("action", "target_id", "actor__username")
    date_hierarchy = "created_at"

    # The audit trail is append-only, even for administrators.
    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
