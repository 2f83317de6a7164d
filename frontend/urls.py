from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import (
    case_public_views,
    case_views,
    preference_views,
    queue_views,
    review_views,
    views,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("review/", review_views.queue, name="review-queue"),
    path("review/next/", review_views.next_item, name="review-next"),
    path("review/audit/", review_views.audit_log, name="review-audit"),
    path(
        "review/preferences/",
        preference_views.viewing_preferences,
        name="review-preferences",
    ),
    path("review/settings/", queue_views.settings_update, name="review-settings"),
    path("review/decisions/", queue_views.my_decisions, name="review-decisions"),
    path("review/decisions/undo/", queue_views.undo, name="review-undo"),
    path("review/filters/", queue_views.saved_filter_save, name="review-filter-save"),
    path(
        "review/filters/<int:filter_id>/delete/",
        queue_views.saved_filter_remove,
        name="review-filter-delete",
    ),
    path("review/items/<int:pk>/", review_views.item_page, name="review-item"),
    path("review/items/<int:pk>/claim/", review_views.claim, name="review-claim"),
    path("review/items/<int:pk>/release/", review_views.release, name="review-release"),
    path("review/items/<int:pk>/assign/", queue_views.assign, name="review-assign"),
    path("review/items/<int:pk>/decide/", review_views.decide, name="review-decide"),
    path(
        "review/items/<int:pk>/near-misses/<int:reference_id>/judge/",
        review_views.judge_near_miss,
        name="review-near-miss-judge",
    ),
    path("review/items/<int:pk>/media", review_views.media, name="review-media"),
    path("review/items/<int:pk>/thumbnail.jpg", queue_views.thumbnail, name="review-thumbnail"),
    path(
        "review/items/<int:pk>/reports/<int:version>/<slug:kind>.png",
        review_views.artifact,
        name="review-artifact",
    ),
    path(
        "review/items/<int:pk>/references/<int:reference_id>",
        review_views.reference_image,
        name="review-reference",
    ),
    # Fact-checking cases (factcheck.cases) and the public fact-check pages.
    path("cases/", case_views.case_index, name="case-list"),
    path("cases/new/", case_views.case_new, name="case-new"),
    path("cases/references/", case_views.reference_search, name="case-reference-search"),
    path("cases/<int:pk>/", case_views.case_detail, name="case-detail"),
    path("cases/<int:pk>/do/<slug:action>/", case_views.case_act, name="case-act"),
    path(
        "cases/<int:pk>/evidence/<int:evidence_id>/image",
        case_views.evidence_image,
        name="case-evidence-image",
    ),
    path(
        "cases/<int:pk>/submissions/<int:submission_id>/image",
        case_views.submission_image,
        name="case-submission-image",
    ),
    path(
        "cases/<int:pk>/overlays/<int:artifact_id>.png",
        case_views.overlay_image,
        name="case-overlay-image",
    ),
    path("factchecks/feed.json", case_public_views.factcheck_feed, name="factcheck-feed"),
    path("factchecks/<slug:slug>/", case_public_views.factcheck_page, name="factcheck-public"),
    path(
        "factchecks/<slug:slug>/copies/<int:submission_id>",
        case_public_views.factcheck_copy,
        name="factcheck-copy",
    ),
    path(
        "factchecks/<slug:slug>/copies/<int:submission_id>/edits.png",
        case_public_views.factcheck_copy_edits,
        name="factcheck-copy-edits",
    ),
    path(
        "factchecks/<slug:slug>/originals/<int:reference_id>",
        case_public_views.factcheck_original,
        name="factcheck-original",
    ),
]
