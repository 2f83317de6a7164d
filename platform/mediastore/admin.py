from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from mediastore.models import MediaObject


@admin.register(MediaObject)
class MediaObjectAdmin(admin.ModelAdmin):
    list_display = ("sha256", "format", "width", "height", "size", "created_at")
    search_fields = ("sha256",)
    readonly_fields = ("sha256", "file", "mime", "format", "size", "width", "height", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
