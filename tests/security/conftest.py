"""A small world of one tenant's objects (client A) and a client for every persona."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

PERSONAS = (
    "anonymous",
    "outsider_client",
    "own_client",
    "moderator",
    "fact_checker",
    "admin",
    "outsider",
)


@dataclass
class World:
    params: dict[str, dict[str, Any]]  # URL template -> path parameters
    defaults: dict[str, int]  # URL prefix -> the pk of templates not in params
    clients: dict[str, APIClient]  # persona -> authenticated test client
    own_submission_id: int
    own_delivery_id: int
    other_submission_id: int
    own_token: str
    real_ids: dict[str, int]  # API path prefix -> id of a real tenant-A object


def _bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def _session(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


@pytest.fixture
def world(personas) -> World:
    from accounts.services import api_client_create
    from factcheck.cases.curation import evidence_add
    from integrations.models import Delivery, WebhookEndpoint
    from moderation.escalation import case_submission_link
    from moderation.models import Event, Report, ReportArtifact
    from moderation.review_settings import saved_filter_create
    from tests.moderation.review_factory import review_item_create

    own = api_client_create(name="Tenant A")
    other = api_client_create(name="Tenant B")
    item = review_item_create(seed=1, client=own.client)
    other_item = review_item_create(seed=2, client=other.client)
    submission = item.submission
    reference = item.submission.reports.get().document["matches"][0]["reference"]
    report = Report.objects.get(submission=submission)
    artifact = ReportArtifact.objects.filter(report=report).first()
    assert artifact is not None
    case = started_case(personas["fact_checker"])
    case_submission_link(case=case, submission=submission, actor=personas["fact_checker"])
    evidence = evidence_add(
        case=case,
        actor=personas["fact_checker"],
        kind="reference",
        reference=_reference(int(reference["id"])) if item.submission.media else None,
    )
    public = published_case(personas["fact_checker"])
    endpoint = WebhookEndpoint.objects.create(client=own.client, url="https://sns.example/hooks")
    event = Event.objects.create(
        type="submission.analyzed", submission=submission, client=own.client, payload={}
    )
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event=event,
        event_type=event.type,
        webhook_id=f"evt_{event.pk}",
        status=Delivery.Status.DELIVERED,
        delivered_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    # The moderator's own saved search: only its owner may delete it.
    saved = saved_filter_create(user=personas["moderator"], name="cats", query="q=cat")
    ids = {
        "item": item.pk,
        "submission": submission.pk,
        "reference": int(reference["id"]),
        "case": case.pk,
        "evidence": evidence.pk,
        "artifact": artifact.pk,
        "kind": artifact.kind,
        "version": report.version,
        "delivery": delivery.pk,
    }
    params = {
        "/api/v1/references/{pk}/": {"pk": ids["reference"]},
        "/api/v1/submissions/{pk}/": {"pk": ids["submission"]},
        "/api/v1/submissions/{pk}/report/": {"pk": ids["submission"]},
        "/api/v1/submissions/{pk}/retry/": {"pk": ids["submission"]},
        "/api/v1/submissions/{pk}/artifacts/{kind}.png": {
            "pk": ids["submission"],
            "kind": ids["kind"],
        },
        # An image submission: it has no annotated video (the route answers 404 where visible).
        "/api/v1/submissions/{pk}/artifacts/annotated.mp4": {"pk": ids["submission"]},
        "/api/v1/deliveries/{pk}/": {"pk": ids["delivery"]},
        "/api/v1/deliveries/{pk}/redeliver/": {"pk": ids["delivery"]},
        "/api/v1/webhooks/inbound/{client}/": {"client": own.client.slug},
        "/review/items/{pk}/reports/{version}/{kind}.png": {
            "pk": ids["item"],
            "version": ids["version"],
            "kind": ids["kind"],
        },
        "/review/items/{pk}/references/{reference_id}": {
            "pk": ids["item"],
            "reference_id": ids["reference"],
        },
        "/review/items/{pk}/near-misses/{reference_id}/judge/": {
            "pk": ids["item"],
            "reference_id": ids["reference"],
        },
        "/cases/{pk}/do/{action}/": {"pk": ids["case"], "action": "comment"},
        "/cases/{pk}/evidence/{evidence_id}/image": {
            "pk": ids["case"],
            "evidence_id": ids["evidence"],
        },
        "/cases/{pk}/submissions/{submission_id}/image": {
            "pk": ids["case"],
            "submission_id": ids["submission"],
        },
        "/cases/{pk}/overlays/{artifact_id}.png": {
            "pk": ids["case"],
            "artifact_id": ids["artifact"],
        },
        "/api/v1/cases/{pk}/evidence/{evidence_id}/verify/": {
            "pk": ids["case"],
            "evidence_id": ids["evidence"],
        },
        "/factchecks/{slug}/": {"slug": public.slug},
        # Tenant A's submission and its original belong to a case that is not published: a
        # published case's pictures never reach them.
        "/factchecks/{slug}/copies/{submission_id}": {
            "slug": public.slug,
            "submission_id": ids["submission"],
        },
        "/factchecks/{slug}/copies/{submission_id}/edits.png": {
            "slug": public.slug,
            "submission_id": ids["submission"],
        },
        "/factchecks/{slug}/originals/{reference_id}": {
            "slug": public.slug,
            "reference_id": ids["reference"],
        },
        "/review/filters/{filter_id}/delete/": {"filter_id": saved.pk},
    }
    # The rest take one pk: a review item under /review/items/, a case under /cases/.
    defaults = {
        "/review/items/": ids["item"],
        "/cases/": ids["case"],
        "/api/v1/cases/": ids["case"],
    }
    clients = {
        "anonymous": APIClient(),
        "outsider_client": _bearer(other.token),
        "own_client": _bearer(own.token),
        **{name: _session(personas[name]) for name in ("moderator", "fact_checker", "admin")},
        "outsider": _session(personas["outsider"]),
    }
    real_ids = {
        "/api/v1/cases/": case.pk,
        "/api/v1/submissions/": submission.pk,
        "/api/v1/references/": ids["reference"],
        "/api/v1/deliveries/": delivery.pk,
    }
    return World(
        params,
        defaults,
        clients,
        submission.pk,
        delivery.pk,
        other_item.submission.pk,
        own.token,
        real_ids,
    )


def started_case(actor):
    from factcheck.cases.services import ClaimInput, case_create

    return case_create(
        title="Shark on the highway",
        actor=actor,
        claims=[ClaimInput(text="A shark swam on a flooded highway", language="en")],
    )


def published_case(actor):
    from factcheck.cases.services import case_publish, case_rate, case_transition

    case = started_case(actor)
    case = case_transition(case=case, actor=actor, to_status="investigating")
    case = case_rate(case=case, actor=actor, rating="false", explanation="The photo is edited.")
    return case_publish(case=case, actor=actor)


def _reference(pk: int):
    from factcheck.models import Reference

    return Reference.objects.get(pk=pk)
