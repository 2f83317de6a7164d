"""The accept path's writes: one transaction per accepted upload, and a same-content race."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditLog
from mediastore.models import MediaObject
from mediastore.services import media_prepare
from moderation import services
from moderation.models import Submission
from moderation.services import submission_create

pytestmark = pytest.mark.django_db


def test_media_row_submission_and_audit_share_one_transaction(engines, make_image_bytes) -> None:
    with CaptureQueriesContext(connection) as queries:
        submission = submission_create(content=make_image_bytes(seed=1), source="api")
    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    # The test runs inside a transaction, so the service's transaction is one savepoint.
    assert statements.count("SAVEPOINT") == 1
    assert statements.count("INSERT") == 3  # media, submission, audit entry
    assert AuditLog.objects.get(action="submission.create").target_id == str(submission.pk)


def test_a_failed_create_leaves_no_media_row(engines, make_image_bytes, monkeypatch) -> None:
    def fail(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services, "audit_record", fail)
    with pytest.raises(RuntimeError):
        submission_create(content=make_image_bytes(seed=2), source="api")
    assert not MediaObject.objects.exists() and not Submission.objects.exists()


def test_same_content_stored_concurrently_is_reused(engines, make_image_bytes, monkeypatch):
    content = make_image_bytes(seed=3)
    calls: list[object] = []

    def racing_prepare(**kwargs):
        prepared = media_prepare(**kwargs)
        if not calls:  # another request creates the row right after our lookup
            services.media_row_create(prepared)
        calls.append(prepared)
        return prepared

    monkeypatch.setattr(services, "media_prepare", racing_prepare)
    submission = submission_create(content=content, source="api")
    assert len(calls) == 2 and isinstance(calls[1], MediaObject)
    assert MediaObject.objects.get().pk == submission.media_id
