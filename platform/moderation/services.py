"""Writes for submissions: create (validate, store, enqueue), retry a failed one, re-analyse.

The analysis itself (task body, report versions, review routing) is in moderation.analysis.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from typing import Any, ClassVar, Required, TypedDict, Unpack

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiClient, User
from accounts.services import audit_record
from config.errors import ServiceError
from mediastore.refusals import MediaRejected
from mediastore.services import PreparedMedia, media_prepare, media_row_create
from moderation.metadata import MetadataInvalid, metadata_check
from moderation.models import Submission

MAX_IDEMPOTENCY_KEY_LENGTH = 200
# The request field that carries the file in every intake; unacceptable media is its error.
MEDIA_FIELD = "media"
MAX_EXTERNAL_ID_LENGTH = 200
MAX_PLATFORM_LENGTH = 100
MAX_TEXT_LENGTH = 20_000
# Tries of the create transaction: a second one when a concurrent upload of the same content
# created its media row first (that row is then reused).
MEDIA_RACE_ATTEMPTS = 2
# An Idempotency-Key replays its first request for this long; afterwards the key is free again
# (as Stripe does), so a sender's key space never fills up and a stale retry makes a new item.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)


class SubmissionError(ServiceError, ValueError):
    """A submission cannot be made or changed as asked; the message is safe to show.

    `field` names the request field at fault, when one is. 400, or 409 when the request
    conflicts with the submission's state or an earlier request (CONFLICT_CODES)."""

    CONFLICT_CODES: ClassVar[frozenset[str]] = frozenset(
        {"idempotency_key_reused", "not_failed", "in_progress"}
    )

    def __init__(self, message: str, *, code: str, field: str = "") -> None:
        conflict = code in self.CONFLICT_CODES
        status = HTTPStatus.CONFLICT if conflict else HTTPStatus.BAD_REQUEST
        super().__init__(message, code=code, field=field, status=status)


@dataclass(frozen=True)
class SubmissionCreated:
    submission: Submission
    created: bool  # False: an earlier request with the same Idempotency-Key made it


def _check_lengths(*, external_id: str, text: str, idempotency_key: str, platform: str) -> None:
    for name, value, limit in (
        ("external_id", external_id, MAX_EXTERNAL_ID_LENGTH),
        ("text", text, MAX_TEXT_LENGTH),
        ("Idempotency-Key", idempotency_key, MAX_IDEMPOTENCY_KEY_LENGTH),
        ("platform", platform, MAX_PLATFORM_LENGTH),
    ):
        if len(value) > limit:
            raise SubmissionError(
                f"{name} is {len(value)} characters; the limit is {limit}", code="too_long"
            )


def request_fingerprint(*, sha256: str, fields: dict[str, Any]) -> str:
    """What an Idempotency-Key stands for: the media and every other parameter of the request."""
    canonical = json.dumps({"media": sha256, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(
    caller: User | None, idempotency_key: str, fingerprint: str, sha256: str
) -> Submission | None:
    """The submission an earlier request with this key made, or None when the key is unused
    or expired (it is then released). A key reused for a different request is refused."""
    if not idempotency_key or caller is None:
        return None
    existing = (
        Submission.objects.select_related("media")
        .filter(created_by=caller, idempotency_key=idempotency_key)
        .first()
    )
    if existing is None:
        return None
    if existing.created_at < timezone.now() - IDEMPOTENCY_KEY_TTL:
        # Compare-and-set: of two concurrent requests with the expired key one releases it,
        # both create, and the unique constraint makes the loser replay the winner.
        Submission.objects.filter(pk=existing.pk, idempotency_key=idempotency_key).update(
            idempotency_key=""
        )
        return None
    # Rows stored before keys covered the whole request carry no fingerprint: the file decides.
    stored = existing.idempotency_fingerprint
    if (stored != fingerprint) if stored else (existing.media.sha256 != sha256):
        raise SubmissionError(
            "this Idempotency-Key was already used for a different request (another file, "
            "text, external_id, platform or metadata); use a new key",
            code="idempotency_key_reused",
        )
    return existing


class SubmissionFields(TypedDict, total=False):
    """The keyword arguments of `submission_create` and `submission_create_or_replay`.

    `content` and `source` are required; the rest default to nothing (None, "" or no metadata).
    """

    content: Required[bytes]
    source: Required[str]
    client: ApiClient | None
    external_id: str
    text: str
    created_by: User | None
    idempotency_key: str
    platform: str
    metadata: dict[str, Any] | None


def submission_create(**fields: Unpack[SubmissionFields]) -> Submission:
    """Validate and store the media (content-addressed), create one row, analyse after commit.

    Raises mediastore.images.ImageRejected or mediastore.videos.VideoRejected (nothing stored)
    for unacceptable media and
    SubmissionError for bad fields. The same (caller, idempotency_key) returns the first row.
    """
    return submission_create_or_replay(**fields).submission


def submission_create_or_replay(**fields: Unpack[SubmissionFields]) -> SubmissionCreated:
    """Like submission_create, and says whether the row is new or an idempotent replay."""
    content, source = fields["content"], fields["source"]
    client, created_by = fields.get("client"), fields.get("created_by")
    external_id, text = fields.get("external_id", ""), fields.get("text", "")
    idempotency_key, platform = fields.get("idempotency_key", ""), fields.get("platform", "")
    _check_lengths(
        external_id=external_id, text=text, idempotency_key=idempotency_key, platform=platform
    )
    if source not in Submission.Source.values:
        raise SubmissionError(f"unknown source {source!r}", code="invalid")
    try:
        metadata = metadata_check(fields.get("metadata"))
    except MetadataInvalid as error:
        raise SubmissionError(str(error), code="invalid_metadata", field=error.field) from None
    # The Idempotency-Key belongs to the caller: a person, or the service user of a client.
    caller = created_by or (client.user if client is not None else None)
    sha256 = hashlib.sha256(content).hexdigest()
    fingerprint = request_fingerprint(
        sha256=sha256,
        fields={
            "source": source,
            "external_id": external_id,
            "text": text,
            "platform": platform,
            "metadata": metadata,
        },
    )
    existing = _replay(caller, idempotency_key, fingerprint, sha256)
    if existing is not None:
        return SubmissionCreated(existing, created=False)
    for attempt in range(MEDIA_RACE_ATTEMPTS):
        # Refuses (MediaRejected) before writing anything; new media gets its row in the same
        # transaction as the submission and its audit entry (one commit per accepted upload).
        try:
            prepared = media_prepare(content=content, sha256=sha256, allow_video=True)
        except MediaRejected as error:
            error.field = error.field or MEDIA_FIELD
            raise
        try:
            with transaction.atomic():
                media = (
                    media_row_create(prepared) if isinstance(prepared, PreparedMedia) else prepared
                )
                submission = Submission.objects.create(
                    client=client,
                    source=source,
                    external_id=external_id,
                    text=text,
                    media=media,
                    created_by=caller,
                    platform=platform,
                    metadata=metadata,
                    idempotency_key=idempotency_key if caller is not None else "",
                    idempotency_fingerprint=fingerprint if idempotency_key else "",
                )
                audit_record(
                    actor=caller,
                    action="submission.create",
                    target=submission,
                    data={"source": source, "external_id": external_id, "media": sha256},
                )
                _enqueue_analysis(submission)
        except IntegrityError:
            # The same key raced in from a concurrent retry: the first one wins. Or the same
            # content was stored concurrently: the next attempt finds and reuses its row.
            existing = _replay(caller, idempotency_key, fingerprint, sha256)
            if existing is not None:
                return SubmissionCreated(existing, created=False)
            if attempt + 1 == MEDIA_RACE_ATTEMPTS or not isinstance(prepared, PreparedMedia):
                raise
        else:
            return SubmissionCreated(submission, created=True)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _enqueue_analysis(submission: Submission, reason: str = "") -> None:
    from moderation.analysis import analysis_enqueue

    analysis_enqueue(submission_id=submission.pk, media_kind=submission.media.kind, reason=reason)


def submission_retry(*, submission: Submission, actor: User | None = None) -> Submission:
    """Queue a failed analysis again (failed -> received, compare-and-set)."""
    with transaction.atomic():
        moved = Submission.objects.filter(pk=submission.pk, status=Submission.Status.FAILED).update(
            status=Submission.Status.RECEIVED, failure_reason="", attempts=0
        )
        if moved != 1:
            current = Submission.objects.filter(pk=submission.pk).values_list("status", flat=True)
            raise SubmissionError(
                f"only a failed analysis can be retried; this one is {next(iter(current), '?')}",
                code="not_failed",
            )
        audit_record(actor=actor, action="submission.retry", target=submission)
        _enqueue_analysis(submission, reason="retry after a failed analysis")
    submission.refresh_from_db()
    return submission


def submission_reanalyze(
    *, submission: Submission, actor: User | None = None, reason: str = "re-analysis requested"
) -> Submission:
    """Analyse an analysed or failed submission again; the new report becomes a new version."""
    with transaction.atomic():
        moved = Submission.objects.filter(
            pk=submission.pk,
            status__in=[Submission.Status.ANALYZED, Submission.Status.FAILED],
        ).update(status=Submission.Status.RECEIVED, failure_reason="", attempts=0)
        if moved != 1:
            raise SubmissionError(
                "this submission is already queued or being analysed", code="in_progress"
            )
        audit_record(
            actor=actor, action="submission.reanalyze", target=submission, data={"reason": reason}
        )
        _enqueue_analysis(submission, reason=reason)
    submission.refresh_from_db()
    return submission
