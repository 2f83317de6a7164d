from django.contrib import admin

from moderation.models import Submission


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "client", "source", "external_id", "status", "created_at")
    list_filter = ("status", "source", "client")
    search_fields = ("external_id", "text")
    raw_id_fields = ("media", "created_by")
    readonly_fields = ("created_at", "updated_at")
