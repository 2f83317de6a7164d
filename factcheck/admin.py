from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.authentication import signed_in_user
from factcheck.models import Reference
from factcheck.services import reference_remove


@admin.register(Reference)
class ReferenceAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "external_id", "credit", "published_at", "created_at")
    list_filter = ("source",)
    search_fields = ("external_id", "caption", "credit")
    raw_id_fields = ("media", "created_by")

    # Deleting through the service keeps the indexes and the audit log in step.
    def delete_model(self, request: HttpRequest, obj: Reference) -> None:
        reference_remove(reference=obj, actor=signed_in_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Reference]) -> None:
        for reference in queryset:
            reference_remove(reference=reference, actor=signed_in_user(request))
