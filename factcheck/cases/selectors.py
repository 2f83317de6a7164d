"""Reads for cases: listing and filters, report links, related fact-checks by claim meaning."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Q, QuerySet

from factcheck.cases.claimreview import claimreview_api_path, public_path
from factcheck.cases.claims import ClaimEmbedder, ClaimIndex, claim_embedder
from factcheck.cases.models import Case, Claim
from factcheck.cases.workflow import STATUS_PUBLISHED
from factcheck.models import Reference

MAX_RELATED = 20
MAX_QUERY_CHARACTERS = 5_000
# Candidate claims looked at per wanted case: several claims of one case may rank first.
CLAIMS_PER_CASE = 4
# The evidence form's reference search: hits shown, and the longest query looked at.
REFERENCE_SEARCH_RESULTS = 10
MAX_REFERENCE_QUERY = 200
# Longer digit strings are no row id (a bigint has 19 digits; this keeps clear of its limit).
MAX_ID_DIGITS = 18


def typed_id(text: str) -> int | None:
    """A row id as a person types it (`12`, `#12`), or None when the text is not one."""
    number = text.strip().removeprefix("#")
    if number.isascii() and number.isdigit() and len(number) <= MAX_ID_DIGITS:
        return int(number)
    return None


def case_list(
    *,
    status: str = "",
    assignee: Any = None,
    rating: str = "",
    created_from: datetime.date | None = None,
    created_to: datetime.date | None = None,
    search: str = "",
) -> QuerySet[Case]:
    """Cases newest first; `search` looks in titles, claims and claimants."""
    cases = Case.objects.all()
    if status:
        cases = cases.filter(status=status)
    if assignee is not None:
        cases = cases.filter(assignees=assignee)
    if rating:
        cases = cases.filter(rating=rating)
    if created_from:
        cases = cases.filter(created_at__date__gte=created_from)
    if created_to:
        cases = cases.filter(created_at__date__lte=created_to)
    search = search.strip()
    if search:
        cases = cases.filter(
            Q(title__icontains=search)
            | Q(claims__text__icontains=search)
            | Q(claims__claimant__icontains=search)
        ).distinct()
    return cases.order_by("-created_at", "-id")


def references_search(query: str) -> list[dict[str, Any]]:
    """Verified originals to pick as case evidence: the one whose id is typed (`12`, `#12`),
    then exact external ids, then external ids, captions and sources containing the words,
    newest first; at most REFERENCE_SEARCH_RESULTS, each as the form shows it."""
    query = " ".join(query.replace("\x00", " ").split())[:MAX_REFERENCE_QUERY]
    if not query:
        return []
    by_id = typed_id(query)
    matching = (
        Q(external_id__icontains=query) | Q(caption__icontains=query) | Q(source__icontains=query)
    )
    if by_id is not None:
        matching |= Q(pk=by_id)
    found = list(
        Reference.objects.filter(matching)
        .only("id", "external_id", "source", "caption", "created_at")
        .order_by("-created_at", "-id")[: REFERENCE_SEARCH_RESULTS * 2]
    )

    def rank(reference: Reference) -> int:
        if reference.pk == by_id:
            return 0
        return 1 if reference.external_id.lower() == query.lower() else 2

    found.sort(key=rank)  # stable: newest first within each rank
    return [
        {
            "id": reference.pk,
            "external_id": reference.external_id,
            "source": reference.source,
            "caption": reference.caption[:160],
        }
        for reference in found[:REFERENCE_SEARCH_RESULTS]
    ]


def published_cases() -> QuerySet[Case]:
    return Case.objects.filter(status=STATUS_PUBLISHED, slug__isnull=False).order_by(
        "-published_at", "-id"
    )


def case_link(case: Case) -> dict[str, Any]:
    """How a report or a page points at a case (paths are relative to the site)."""
    link: dict[str, Any] = {
        "case_id": case.pk,
        "title": case.title,
        "status": case.status,
        "rating": case.rating or None,
        "published": case.status == STATUS_PUBLISHED and bool(case.slug),
        "url": None,
        "claimreview_url": None,
    }
    if link["published"]:
        link["url"] = public_path(case)
        link["claimreview_url"] = claimreview_api_path(case)
    return link


def cases_for_reference_ids(reference_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Published cases whose evidence includes any of the references, newest first, each as
    `case_link` plus "reference_ids" (which of the given references it holds as evidence)."""
    wanted = {int(reference_id) for reference_id in reference_ids}
    if not wanted:
        return []
    cases = (
        published_cases()
        .filter(evidence__reference_id__in=wanted)
        .distinct()
        .prefetch_related("evidence")
    )
    links = []
    for case in cases:
        link = case_link(case)
        held = {item.reference_id for item in case.evidence.all()} & wanted
        link["reference_ids"] = sorted(held)
        links.append(link)
    return links


class _StoredClaimIndex:
    """The process-wide index of stored claims, brought up to date before each search.

    New claims are embedded (and their embeddings saved) on first search, so writes never wait
    for the model; a deleted claim or a changed model makes the index rebuild."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: ClaimIndex | None = None
        self._model = ""
        self._ids: set[int] = set()

    def search(
        self, embedder: ClaimEmbedder, vector: np.ndarray, k: int
    ) -> list[tuple[int, float]]:
        with self._lock:
            self._refresh(embedder)
            assert self._index is not None
            return [(hit.claim_id, hit.score) for hit in self._index.search(vector, k)]

    def _refresh(self, embedder: ClaimEmbedder) -> None:
        stored_ids = set(Claim.objects.values_list("id", flat=True))
        if self._index is None or self._model != embedder.name or not self._ids <= stored_ids:
            self._index, self._model, self._ids = ClaimIndex(embedder.dim), embedder.name, set()
        new_ids = stored_ids - self._ids
        if not new_ids:
            return
        claims = list(
            Claim.objects.filter(id__in=new_ids).only("id", "text", "embedding", "embedding_model")
        )
        stale = [claim for claim in claims if claim.embedding_model != embedder.name]
        if stale:
            for claim, vector in zip(stale, embedder.embed([c.text for c in stale]), strict=True):
                claim.embedding, claim.embedding_model = vector.tobytes(), embedder.name
            Claim.objects.bulk_update(stale, ["embedding", "embedding_model"])
        vectors = np.stack([_stored_vector(claim) for claim in claims])
        self._index.add([claim.pk for claim in claims], vectors)
        self._ids |= {claim.pk for claim in claims}


def _stored_vector(claim: Claim) -> np.ndarray:
    """A claim's saved embedding: every claim the index adds was embedded just before, or was
    already embedded by the current model."""
    if claim.embedding is None:
        raise ValueError(f"claim {claim.pk} has no stored embedding")
    return np.frombuffer(bytes(claim.embedding), dtype=np.float32)


_stored_index = _StoredClaimIndex()


def configured_claim_embedder() -> ClaimEmbedder:
    return claim_embedder(
        getattr(settings, "CLAIM_EMBEDDING_MODEL", "") or None,
        device=getattr(settings, "CLAIM_EMBEDDING_DEVICE", "cpu") or "cpu",
    )


def related_factchecks(
    text: str, k: int = 3, *, published_only: bool = False, exclude_case_id: int | None = None
) -> list[dict[str, Any]]:
    """Earlier cases and published fact-checks whose claims mean the same as `text`, best first:
    `case_link` plus "score" (cosine similarity) and "claim" (the closest claim's text)."""
    text = " ".join(text.split())[:MAX_QUERY_CHARACTERS]
    k = max(0, min(int(k), MAX_RELATED))
    if not text or k == 0:
        return []
    # Nothing to find means no need for the model: loading it takes seconds on first use.
    candidates = (
        Claim.objects.filter(case__status=STATUS_PUBLISHED) if published_only else Claim.objects
    )
    if not candidates.exists():
        return []
    embedder = configured_claim_embedder()
    vector = embedder.embed([text])[0]
    hits = _stored_index.search(embedder, vector, k * CLAIMS_PER_CASE)
    claims = Claim.objects.filter(id__in=[claim_id for claim_id, _ in hits]).select_related("case")
    by_id = {claim.pk: claim for claim in claims}
    related: dict[int, dict[str, Any]] = {}
    for claim_id, score in hits:  # best first, so the first claim seen of a case is its best
        claim = by_id.get(claim_id)
        if claim is None or claim.case_id in related or claim.case_id == exclude_case_id:
            continue
        if published_only and claim.case.status != STATUS_PUBLISHED:
            continue
        related[claim.case_id] = {**case_link(claim.case), "score": score, "claim": claim.text}
    return list(related.values())[:k]
