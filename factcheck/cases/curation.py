"""Evidence on cases, and curation of the reference index from it.

Marking evidence media as a verified original goes through factcheck.services.reference_add, so
it is fingerprinted and indexed like any other reference; corrections and removals are audited
and, when made from a case, recorded on its timeline.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction

from accounts.models import User
from accounts.services import audit_record
from factcheck.cases.models import Case, Evidence
from factcheck.cases.selectors import typed_id
from factcheck.cases.services import (
    PERM_CHANGE,
    CaseError,
    case_record,
    link_check,
    require_permission,
)
from factcheck.models import Reference
from factcheck.services import MAX_SOURCE_LENGTH, reference_add, reference_remove
from mediastore.images import ImageRejected
from mediastore.links import http_url
from mediastore.models import MediaObject
from mediastore.services import media_read, media_store

MAX_NOTE_LENGTH = 10_000
MAX_URL_LENGTH = 2000
PERM_ADD_REFERENCE = "factcheck.add_reference"
PERM_CHANGE_REFERENCE = "factcheck.change_reference"
PERM_DELETE_REFERENCE = "factcheck.delete_reference"
# Fields of a reference a curator may correct (the media itself never changes: a different image
# is a different reference).
CORRECTABLE_FIELDS = (
    "source",
    "external_id",
    "url",
    "caption",
    "credit",
    "licence",
    "published_at",
)


def reference_snapshot(reference: Reference) -> dict[str, Any]:
    """What a case keeps showing about a reference even after it is removed from the index."""
    return {
        "id": reference.pk,
        "source": reference.source,
        "external_id": reference.external_id,
        "url": reference.url,
        "credit": reference.credit,
        "licence": reference.licence,
        "caption": reference.caption,
        "published_at": reference.published_at.isoformat() if reference.published_at else None,
        "media_id": reference.media_id,
    }


def evidence_kind_infer(
    *, reference: Reference | None, url: str, content: bytes | None, note: str
) -> str:
    """The kind of evidence given when the person did not choose one: an uploaded file is
    uploaded media (it becomes a verified original only when marked as one), a picked reference
    a verified original, else a link, else a note."""
    if reference is not None and content:
        raise CaseError(
            "a reference and an uploaded file are two pieces of evidence: add them one at a time"
        )
    if reference is not None:
        return Evidence.Kind.REFERENCE
    if content:
        return Evidence.Kind.MEDIA
    if url.strip():
        return Evidence.Kind.LINK
    if note.strip():
        return Evidence.Kind.NOTE
    raise CaseError("add a file, a reference, a link or a note")


def evidence_reference_resolve(typed: str) -> Reference | None:
    """The verified original a person typed or picked: its id (`12` or `#12`) or its exact
    external id; None when nothing was typed. CaseError (a form error, not a 404) otherwise."""
    typed = typed.strip()
    if not typed:
        return None
    number = typed_id(typed)
    if number is not None:
        found = Reference.objects.filter(pk=number).first()
        if found is None:
            raise CaseError(f"no verified original #{number} in the index")
        return found
    if "\x00" in typed:  # PostgreSQL text cannot hold NUL: no external id has one
        raise CaseError("no verified original with that id or external id in the index")
    matches = list(Reference.objects.filter(external_id=typed)[:2])
    if len(matches) > 1:
        raise CaseError(f"several verified originals have the external id {typed!r}: pick one")
    if not matches:
        raise CaseError(
            f"no verified original with the id or external id {typed!r} in the index; "
            "search by external id or caption and pick one"
        )
    return matches[0]


def evidence_add(
    *,
    case: Case,
    actor: User,
    kind: str = "",
    reference: Reference | None = None,
    url: str = "",
    content: bytes | None = None,
    note: str = "",
) -> Evidence:
    """Add a verified original from the index, a link, an uploaded image or a note; without a
    `kind`, the kind follows from what is given (`evidence_kind_infer`).

    Raises CaseError for inconsistent input and mediastore ImageRejected for a bad upload
    (nothing stored)."""
    require_permission(actor, PERM_CHANGE)
    url, note = url.strip(), note.strip()
    kind = kind or evidence_kind_infer(reference=reference, url=url, content=content, note=note)
    if kind not in Evidence.Kind.values:
        raise CaseError(f"evidence kind must be one of {', '.join(Evidence.Kind.values)}")
    if len(note) > MAX_NOTE_LENGTH or len(url) > MAX_URL_LENGTH:
        raise CaseError(f"note at most {MAX_NOTE_LENGTH}, url at most {MAX_URL_LENGTH} characters")
    url = link_check(url, field="url")
    required: dict[str, bool] = {
        Evidence.Kind.REFERENCE: reference is not None,
        Evidence.Kind.LINK: bool(url),
        Evidence.Kind.MEDIA: bool(content),
        Evidence.Kind.NOTE: bool(note),
    }
    if not required[kind]:
        what = {"reference": "a reference", "link": "a url", "media": "a file", "note": "a note"}
        raise CaseError(f"{kind} evidence needs {what[kind]}")
    media = media_store(content=content).media if kind == Evidence.Kind.MEDIA and content else None
    with transaction.atomic():
        evidence = Evidence.objects.create(
            case=case,
            kind=kind,
            reference=reference if kind == Evidence.Kind.REFERENCE else None,
            reference_snapshot=reference_snapshot(reference)
            if kind == Evidence.Kind.REFERENCE and reference is not None
            else {},
            media=media,
            url=url,
            note=note,
            added_by=actor,
        )
        case_record(
            case=case,
            actor=actor,
            kind="evidence_add",
            data={
                "evidence_id": evidence.pk,
                "evidence_kind": kind,
                "reference_id": reference.pk if reference is not None else None,
            },
        )
    return evidence


def _promotion_checked(*, evidence: Evidence, actor: User, source: str) -> tuple[MediaObject, str]:
    """The evidence's media and the stripped source, once the actor may make the evidence a
    verified original and it can become one."""
    require_permission(actor, PERM_CHANGE)
    require_permission(actor, PERM_ADD_REFERENCE)
    if evidence.media is None:
        raise CaseError("only uploaded media can become a verified original")
    if evidence.reference_id is not None:
        raise CaseError(f"this evidence is already reference {evidence.reference_id}")
    source = source.strip()
    if not source or len(source) > MAX_SOURCE_LENGTH:
        raise CaseError(f"source must be 1 to {MAX_SOURCE_LENGTH} characters")
    return evidence.media, source


def evidence_mark_verified_original(
    *,
    evidence: Evidence,
    actor: User,
    source: str,
    credit: str = "",
    licence: str = "",
    url: str = "",
    caption: str = "",
    external_id: str = "",
    published_at: datetime.date | None = None,
) -> Reference:
    """Add the evidence's uploaded image to the reference index as a verified original."""
    media, source = _promotion_checked(evidence=evidence, actor=actor, source=source)
    # The evidence's own link only when it is http(s): one stored before links were checked
    # must not reach the index, whose references the review UI shows to moderators.
    url = link_check(url, field="url") or http_url(evidence.url)
    try:
        added = reference_add(
            content=media_read(media),
            source=source,
            external_id=external_id or f"case-{evidence.case_id}-evidence-{evidence.pk}",
            url=url,
            caption=caption or evidence.note,
            credit=credit,
            licence=licence,
            published_at=published_at,
            actor=actor,
        )
    except ImageRejected as error:
        raise CaseError(f"this image cannot be a verified original: {error}") from error
    reference = added.reference
    with transaction.atomic():
        Evidence.objects.filter(pk=evidence.pk).update(
            reference=reference, reference_snapshot=reference_snapshot(reference)
        )
        evidence.reference = reference
        case_record(
            case=evidence.case,
            actor=actor,
            kind="verified_original",
            data={
                "evidence_id": evidence.pk,
                "reference_id": reference.pk,
                "created": added.created,
                "source": reference.source,
                "credit": reference.credit,
                "licence": reference.licence,
            },
            target=reference,
        )
    return reference


def reference_correct(
    *, reference: Reference, actor: User, changes: dict[str, Any], case: Case | None = None
) -> Reference:
    """Correct a reference's description (credit, licence, source...); audited with the old and
    new values. The image and its fingerprints are unchanged, so the indexes need no update."""
    require_permission(actor, PERM_CHANGE_REFERENCE)
    unknown = sorted(set(changes) - set(CORRECTABLE_FIELDS))
    if unknown:
        raise CaseError(f"cannot correct {', '.join(unknown)}; correctable: {CORRECTABLE_FIELDS}")
    if "source" in changes:
        changes = {**changes, "source": str(changes["source"]).strip()}
        if not changes["source"] or len(changes["source"]) > MAX_SOURCE_LENGTH:
            raise CaseError(f"source must be 1 to {MAX_SOURCE_LENGTH} characters")
    if "url" in changes:
        changes = {**changes, "url": link_check(str(changes["url"] or ""), field="url")}
    before = {name: _jsonable(getattr(reference, name)) for name in changes}
    after = {name: _jsonable(value) for name, value in changes.items()}
    if before == after:
        return reference
    with transaction.atomic():
        Reference.objects.filter(pk=reference.pk).update(**changes)
        reference.refresh_from_db()
        audit_record(
            actor=actor,
            action="reference.correct",
            target=reference,
            data={"before": before, "after": after, "case_id": case.pk if case else None},
        )
        snapshot = reference_snapshot(reference)
        Evidence.objects.filter(reference=reference).update(reference_snapshot=snapshot)
        if case is not None:
            case_record(
                case=case,
                actor=actor,
                kind="reference_correct",
                data={"reference_id": reference.pk, "before": before, "after": after},
                target=reference,
            )
    return reference


def case_reference_remove(*, evidence: Evidence, actor: User, reason: str) -> None:
    """Take an evidence item's reference out of the index (wrongly verified, rights withdrawn).

    The evidence stays on the case with its snapshot; the removal is audited by reference_remove
    and, with the reason, on the case's timeline."""
    require_permission(actor, PERM_DELETE_REFERENCE)
    reason = reason.strip()
    if not reason:
        raise CaseError("say why the reference is removed")
    reference = evidence.reference
    if reference is None:
        raise CaseError("this evidence has no reference in the index")
    reference_id = reference.pk
    with transaction.atomic():
        case_record(
            case=evidence.case,
            actor=actor,
            kind="reference_remove",
            data={"reference_id": reference_id, "evidence_id": evidence.pk, "reason": reason},
            target=reference,
        )
        reference_remove(reference=reference, actor=actor)
    evidence.reference = None


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.date) else value
