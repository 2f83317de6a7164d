"""The queue's own pages and actions beside the queue and item pages (review_views): queue
thumbnails, reviewer settings, saved filters, undo, assigning an item, "my decisions".

Thin views: the writes are moderation.review and moderation.review_settings services.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.authentication import signed_in_user
from frontend.review_views import QUEUE_PAGE_SIZE, _visible_item, back, reviewer_view
from frontend.undo_offer import undo_offer, undo_offer_clear
from mediastore.renditions import THUMBNAIL_CONTENT_TYPE, thumbnail_ensure
from mediastore.serving import media_file_response
from moderation.models import Decision
from moderation.review import DECISION_UNDO_SECONDS, ReviewError, decision_undo, item_assign
from moderation.review_settings import (
    SavedFilterError,
    queue_query_clean,
    reviewer_settings_update,
    saved_filter_create,
    saved_filter_delete,
)
from moderation.selectors import assignees_for, decisions_by


@reviewer_view
@require_GET
def thumbnail(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A small rendition of the item's image (a video's frame) for the queue; 404 when the
    stored file cannot be read."""
    item = _visible_item(request, pk)
    name = thumbnail_ensure(item.submission.media)
    if name is None:
        raise Http404("No thumbnail for this item.")
    return media_file_response(
        file_name=name, content_type=THUMBNAIL_CONTENT_TYPE, stem=f"thumbnail-{item.pk}"
    )


@reviewer_view
@require_POST
def settings_update(request: HttpRequest) -> HttpResponse:
    """The reviewer's own settings (for now: open the next item after a decision)."""
    reviewer_settings_update(
        user=signed_in_user(request), advance_after_decision=request.POST.get("advance") == "1"
    )
    messages.success(request, "Your review settings are saved.")
    return redirect(back(request, reverse("review-queue")))


@reviewer_view
@require_POST
def saved_filter_save(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("query", "")
    try:
        saved = saved_filter_create(
            user=signed_in_user(request), name=request.POST.get("name", ""), query=query
        )
    except SavedFilterError as error:
        messages.error(request, str(error))
        return redirect(reverse("review-queue") + "?" + queue_query_clean(query))
    messages.success(request, f"Saved filter “{saved.name}”.")
    return redirect(reverse("review-queue") + "?" + saved.query)


@reviewer_view
@require_POST
def saved_filter_remove(request: HttpRequest, filter_id: int) -> HttpResponse:
    if saved_filter_delete(user=signed_in_user(request), filter_id=filter_id):
        messages.info(request, "Saved filter deleted.")
    return redirect("review-queue")


@reviewer_view
@require_POST
def undo(request: HttpRequest) -> HttpResponse:
    """Undo decisions just made (yours, within the undo window)."""
    user = signed_in_user(request)
    wanted = request.POST.getlist("decision")
    if not wanted or not all(value.isdigit() and len(value) < 19 for value in wanted):
        raise BadRequest("Name the decisions to undo by their ids.")
    undone: list[Decision] = []
    for decision_id in dict.fromkeys(int(value) for value in wanted):
        try:
            undone.append(decision_undo(decision_id=decision_id, user=user))
        except ReviewError as error:
            messages.error(request, str(error))
    undo_offer_clear(request)
    if not undone:
        return redirect(back(request, reverse("review-decisions")))
    many = f" for {len(undone)} items" if len(undone) > 1 else ""
    messages.success(request, f"Decision undone{many}: the item is back as it was.")
    return redirect("review-item", pk=undone[0].item_id)


@reviewer_view
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the item to another reviewer (audited)."""
    item = _visible_item(request, pk)
    user = signed_in_user(request)
    wanted = request.POST.get("assignee", "")
    assignee = next(
        (person for person in assignees_for(item=item, user=user) if str(person.pk) == wanted),
        None,
    )
    if assignee is None:
        messages.error(request, "Choose someone from the list to assign the item to.")
        return redirect("review-item", pk=item.pk)
    try:
        item_assign(item=item, user=user, assignee=assignee)
    except ReviewError as error:
        messages.error(request, str(error))
        return redirect("review-item", pk=item.pk)
    messages.success(request, f"Assigned to {assignee.get_username()}.")
    return redirect(back(request, reverse("review-queue")))


@reviewer_view
@require_GET
def my_decisions(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    page = Paginator(decisions_by(user=user), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    undo_until = now - dt.timedelta(seconds=DECISION_UNDO_SECONDS)
    return render(
        request,
        "frontend/my_decisions.html",
        {
            "page": page,
            "query": "",
            "undoable": {
                d.pk
                for d in page.object_list
                if d.undone_at is None
                and d.created_at >= undo_until
                and d.action != Decision.Action.ESCALATE
            },
            "undo": undo_offer(request),
            "undo_seconds": DECISION_UNDO_SECONDS,
        },
    )
