"""Platform-wide pages of issue 18's "Also" list: the favicon, the audit log in words, 403s
that name the role needed, the public ClaimReview, the API schema and docs, the admin."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_favicon_answers_and_every_page_links_it(personas):
    response = Client().get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("frontend/favicon.ico")
    assert "max-age=86400" in response["Cache-Control"]
    login = Client().get("/accounts/login/").content.decode()
    assert 'rel="icon" href="/static/frontend/favicon.ico"' in login
    assert Client().post("/favicon.ico").status_code == 405


def test_a_403_names_the_role_that_is_really_needed(personas):
    moderator = signed_in(personas["moderator"])
    audit = moderator.get("/review/audit/")
    assert audit.status_code == 403
    text = audit.content.decode()
    assert "The audit log needs the admin role" in text
    assert "moderator role" not in text  # the moderator has it: asking for it would not help
    new_case = moderator.get("/cases/new/").content.decode()
    assert "Opening a case by hand needs the fact-checker or admin role" in new_case
    outsider = signed_in(personas["outsider"])
    assert "Looking at submissions needs the moderator, fact-checker or admin role" in (
        outsider.get("/review/").content.decode()
    )
    assert "Looking at fact-check cases needs the moderator, fact-checker or admin role" in (
        outsider.get("/cases/").content.decode()
    )


def test_roles_named_for_a_permission_are_those_that_hold_it():
    from accounts.roles import role_needed, roles_with_permission

    assert roles_with_permission("factcheck.publish_case") == ("fact_checker", "admin")
    assert roles_with_permission("moderation.review_submission") == ("moderator", "admin")
    assert role_needed("X", permissions=["factcheck.view_case"]).startswith(
        "X needs the moderator, fact-checker or admin role"
    )


def test_the_audit_log_words_actions_and_links_targets(personas, case):
    from accounts.services import audit_record
    from tests.moderation.review_factory import review_item_create

    item = review_item_create(seed=51)
    audit_record(
        actor=personas["admin"],
        action="submission.create",
        target=item.submission,
        data={"sha256": "ab" * 32, "url": "https://sns.example/" + "x" * 300},
    )
    page = signed_in(personas["admin"]).get("/review/audit/").content.decode()
    assert "Case: opened the case" in page and "Received a submission" in page
    assert f'<a href="/cases/{case.pk}/">case {case.pk}</a>' in page
    assert f'href="/admin/moderation/submission/{item.submission_id}/change/"' in page
    assert '<code class="action-code">case.create</code>' in page


def test_audit_targets_in_words():
    from frontend.action_words import action_words, audit_target

    assert action_words("decision.escalate") == "Decided: Escalate to a fact-check case"
    assert action_words("case.correct") == "Case: corrected and republished the fact-check"
    assert action_words("some_new.thing_done") == "Some new: thing done"
    assert audit_target("", "", {}).text == ""
    assert audit_target("no.such", "1", {}).url == ""
    assert audit_target("factcheck.case", "x1", {}).url == ""
    decided = audit_target("moderation.decision", "4", {"item": 9})
    assert decided.url == "/review/items/9/" and "review item 9" in decided.text


def test_claimreview_json_ld_is_public_for_published_cases_only(personas, case):
    from factcheck.cases.services import case_publish, case_rate, case_transition

    anonymous = Client()
    url = f"/api/v1/cases/{case.pk}/claimreview/"
    unpublished = anonymous.get(url)
    assert unpublished.status_code == 404 and unpublished.json()["code"] == "not_found"
    assert signed_in(personas["fact_checker"]).get(url).status_code == 404
    for bad in ("abc", "999999", "1.5"):
        assert anonymous.get(f"/api/v1/cases/{bad}/claimreview/").status_code == 404
    actor = personas["fact_checker"]
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="false", explanation="No shark.")
    case_publish(case=case, actor=actor)
    public = anonymous.get(url)
    assert public.status_code == 200 and public["Content-Type"] == "application/ld+json"
    assert public.json()["@type"] == "ClaimReview"
    # The rest of the case stays behind sign-in.
    assert anonymous.get(f"/api/v1/cases/{case.pk}/").status_code == 401
    assert anonymous.post(url).status_code in (401, 403, 405)


def test_every_api_operation_has_a_summary_and_the_webhook_is_documented():
    import yaml

    schema = yaml.safe_load(Client().get("/api/schema/").content)
    operations = [
        (method, path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 30
    assert [(m, p) for m, p, op in operations if not op.get("summary")] == []
    webhook = schema["paths"]["/api/v1/webhooks/inbound/{client}/"]["post"]
    headers = {p["name"] for p in webhook["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert {"202", "200", "400", "401", "413"} <= set(webhook["responses"])
