from django.contrib import admin

from factcheck.models import Reference


@admin.register(Reference)
class ReferenceAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "external_id", "credit", "published_at", "created_at")
    list_filter = ("source",)
    search_fields = ("external_id", "caption", "credit")
    raw_id_fields = ("media", "created_by")
