from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join

from detection import selectors as detection_selectors
from moderation import report_document as doc
from moderation.models import Decision, Event, Report, ReportArtifact, ReviewItem, Submission
from moderation.services import SubmissionError, submission_reanalyze, submission_retry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by services (reports, decisions, events): inspect, never edit by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def _queue_analyses(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, service: Any
) -> None:
    """Apply submission_retry / submission_reanalyze to each row; report what was refused."""
    done, refused = 0, []
    for submission in queryset:
        try:
            service(submission=submission, actor=request.user)
            done += 1
        except SubmissionError as error:
            refused.append(f"{submission.pk}: {error}")
    modeladmin.message_user(request, f"{done} submission(s) queued for analysis.")
    if refused:
        modeladmin.message_user(request, "; ".join(refused), level=messages.WARNING)


def _licence_words(commercial_use: bool | None, licence: str | None) -> str:
    if commercial_use is False:
        return f"NON-COMMERCIAL USE ONLY ({licence})"
    return licence or "no licence stated"


def _warn_about_detector_licences(modeladmin: admin.ModelAdmin, request: HttpRequest) -> None:
    """Tell the administrator when an active detector's licence forbids commercial use, or is
    not stated (read from the configs; no model is loaded)."""
    try:
        stamps = detection_selectors.active_detector_stamps()
    except detection_selectors.DetectionUnavailable as error:
        modeladmin.message_user(request, str(error), level=messages.ERROR)
        return
    restricted = [s for s in stamps if s["commercial_use"] is not True]
    if restricted:
        listed = "; ".join(
            f"{s['name']} {s['version']}: {_licence_words(s['commercial_use'], s['licence'])}"
            for s in restricted
        )
        modeladmin.message_user(
            request,
            f"Check the detectors' licences before commercial use: {listed}",
            level=messages.WARNING,
        )


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = (
        "id", "client", "source", "platform", "external_id", "status", "attempts", "created_at",
    )  # fmt: skip
    list_filter = ("status", "source", "client")
    search_fields = ("external_id", "text", "platform")
    raw_id_fields = ("created_by",)
    # What was submitted and where it stands change only through intake and review, which
    # audit them (moderation.services, moderation.review): never by hand here.
    readonly_fields = (
        "status", "text", "media", "created_at", "updated_at", "failure_reason", "attempts",
    )  # fmt: skip
    date_hierarchy = "created_at"
    actions = ["retry_failed", "reanalyze"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # submissions arrive through submission_create (checks, storage, audit)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        _warn_about_detector_licences(self, request)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Retry failed analyses", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        _queue_analyses(self, request, queryset, submission_retry)

    @admin.action(description="Analyse again (new report version)", permissions=["change"])
    def reanalyze(self, request: HttpRequest, queryset: QuerySet) -> None:
        _queue_analyses(self, request, queryset, submission_reanalyze)


class ReportArtifactInline(admin.TabularInline):
    model = ReportArtifact
    fields = ("kind", "file", "width", "height", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("submission", "version", "is_current", "label", "manipulation_probability")
    list_filter = ("label", "is_current")
    search_fields = ("submission__external_id",)
    raw_id_fields = ("submission",)
    readonly_fields = ("detection_models",)
    inlines = [ReportArtifactInline]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        _warn_about_detector_licences(self, request)
        return super().changelist_view(request, extra_context)

    @admin.display(description="Detection models")
    def detection_models(self, report: Report) -> str:
        """The models stamped in the report, their licence (non-commercial ones flagged) and
        config hash; reports written before stamps existed say so."""
        stamps = doc.model_details_of(report.document)
        if not stamps:
            return "not recorded (report written before model stamps)"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    f"{s.name}{' (shadow)' if s.shadow else ''}",
                    s.version,
                    s.runtime,
                    _licence_words(s.commercial_use, s.licence),
                    (s.config_sha256 or "")[:16],
                )
                for s in stamps
            ),
        )
        return format_html(
            "<table><tr><th>model</th><th>version</th><th>runtime</th><th>licence</th>"
            "<th>config sha256</th></tr>{}</table>",
            rows,
        )


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = ("id", "submission", "priority", "status", "claimed_by", "lease_expires_at")
    list_filter = ("status",)
    search_fields = ("submission__external_id", "claimed_by__username")
    raw_id_fields = ("submission", "claimed_by")
    # Claims and decisions go through moderation.review (compare-and-set, audited); only the
    # priority is an administrator's call.
    readonly_fields = ("submission", "status", "claimed_by", "lease_expires_at", "created_at")


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "item", "moderator", "action", "label")
    list_filter = ("action", "label")
    search_fields = ("item__submission__external_id", "moderator__username", "rationale")
    date_hierarchy = "created_at"


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "type", "submission", "client")
    list_filter = ("type", "client")
    date_hierarchy = "created_at"
