"""Find the original of a query image and localise what was edited.

Pipeline: candidates (PDQ dihedral hashes + optional CLIP embedding) -> geometric verification
against each candidate's cached local features -> edit localisation on verified candidates ->
matches ranked best first. Storage is the caller's business: reference features and images come
through the `ReferenceSource` protocol, indexes through `PdqIndex`/`ClipIndex` or `IndexStore`.

`similarity` in [0, 1] = geometric confidence x unedited share of the overlap, where geometric
confidence = min(1, inliers / SIMILARITY_FULL_INLIERS). An unaltered copy with solid
verification scores 1.0; an edited copy loses the fraction that was edited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from factcheck.core.clip import ClipEmbedder
from factcheck.core.features import FeatureConfig, Features, extract_features
from factcheck.core.fingerprints import pdq_dihedral_hashes
from factcheck.core.index import (
    MISSING_ID,
    ClipIndex,
    ExactVectors,
    PdqIndex,
    best_distance_per_id,
)
from factcheck.core.index_store import IndexStore
from factcheck.core.local_index import LocalIndex
from factcheck.core.localize import LocalizeConfig, localize_edits
from factcheck.core.verify import VerifyConfig, verify

SIMILARITY_FULL_INLIERS = 50


@dataclass(frozen=True)
class MatchConfig:
    pdq_top_k: int = 10
    # Loose on purpose: verification rejects false candidates, and crops/captions push true
    # copies well past the usual 31-bit duplicate threshold. Unrelated hashes sit near 128.
    pdq_max_distance: int = 100
    clip_top_k: int = 10
    clip_min_similarity: float = 0.75
    max_candidates: int = 16
    max_matches: int = 5  # localisation is the costly step; only the best verified get it
    features: FeatureConfig = field(default_factory=FeatureConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    localize: LocalizeConfig = field(default_factory=LocalizeConfig)


class ReferenceSource(Protocol):
    """Raises LookupError for an id that no longer exists (the candidate is then skipped)."""

    def load_reference_features(self, ref_id: int) -> Features: ...

    def load_reference_image(self, ref_id: int) -> np.ndarray: ...


@dataclass
class Candidate:
    reference_id: int
    pdq_distance: int | None = None
    clip_similarity: float | None = None
    local_votes: int | None = None


@dataclass
class Match:
    reference_id: int
    similarity: float
    inliers: int
    transform: np.ndarray
    edited: bool
    edited_fraction: float
    regions: list[dict[str, Any]]
    edit_mask: np.ndarray  # uint8 0/255 in the query grid; kept out of the JSON
    spread: float = 0.0
    pdq_distance: int | None = None
    clip_similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report's `matches` item, with `reference_id` in place of the reference object."""
        transform = self.transform / self.transform[2, 2]
        return {
            "reference_id": int(self.reference_id),
            "similarity": round(float(self.similarity), 4),
            "inliers": int(self.inliers),
            "transform": [[round(float(v), 6) for v in row] for row in transform],
            "edited": bool(self.edited),
            "edited_fraction": round(float(self.edited_fraction), 4),
            "regions": self.regions,
        }


@dataclass
class MatchResult:
    matches: list[Match]
    candidates: list[Candidate]
    timings_ms: dict[str, float]


def _resolve(index: PdqIndex | ClipIndex | LocalIndex | IndexStore | None) -> Any:
    return index.get() if isinstance(index, IndexStore) else index


def find_candidates(
    image: np.ndarray,
    *,
    pdq_index: Any,
    clip_index: Any = None,
    embedder: ClipEmbedder | None = None,
    local_index: Any = None,
    query_features: Features | None = None,
    config: MatchConfig | None = None,
    clip_vectors: ExactVectors | None = None,
) -> list[Candidate]:
    """Union of PDQ, CLIP and local-descriptor candidates, best evidence first.

    `clip_vectors` gives the references' full-precision embeddings so a compressed CLIP index
    can re-rank its candidates exactly (see ClipIndex.search)."""
    config = config or MatchConfig()
    candidates: dict[int, Candidate] = {}
    pdq = _resolve(pdq_index)
    if pdq is not None and len(pdq):
        hashes, _ = pdq_dihedral_hashes(image)
        ids, distances = pdq.search(hashes, config.pdq_top_k, primary=1)  # 1: as posted
        best = best_distance_per_id(ids, distances, config.pdq_max_distance)
        for ref_id, distance in list(best.items())[: config.pdq_top_k]:
            candidates[ref_id] = Candidate(ref_id, pdq_distance=distance)
    clip = _resolve(clip_index)
    if clip is not None and embedder is not None and len(clip):
        ids, similarities = clip.search(embedder.embed([image]), config.clip_top_k, clip_vectors)
        for ref_id, similarity in zip(ids[0].tolist(), similarities[0].tolist(), strict=True):
            if ref_id == MISSING_ID or similarity < config.clip_min_similarity:
                continue
            candidates.setdefault(ref_id, Candidate(ref_id)).clip_similarity = float(similarity)
    local = _resolve(local_index)
    if local is not None and query_features is not None:
        for ref_id, votes in local.search_votes(query_features).items():
            candidates.setdefault(ref_id, Candidate(ref_id)).local_votes = votes

    def strength(candidate: Candidate) -> float:
        pdq_score = 1 - candidate.pdq_distance / 256 if candidate.pdq_distance is not None else 0
        local_score = min(1.0, (candidate.local_votes or 0) / SIMILARITY_FULL_INLIERS)
        return max(pdq_score, candidate.clip_similarity or 0.0, local_score)

    return sorted(candidates.values(), key=strength, reverse=True)[: config.max_candidates]


def match_image(
    image: np.ndarray,
    *,
    references: ReferenceSource,
    pdq_index: Any,
    clip_index: Any = None,
    embedder: ClipEmbedder | None = None,
    local_index: Any = None,
    config: MatchConfig | None = None,
    clip_vectors: ExactVectors | None = None,
) -> MatchResult:
    """Verified matches for `image`, best first (see module docstring for `similarity`).

    Indexes may be given as loaded indexes or as `IndexStore`s (hot-reloaded); any may be None.
    """
    config = config or MatchConfig()
    started = time.perf_counter()
    query_features = extract_features(image, config.features)
    candidates = find_candidates(
        image,
        pdq_index=pdq_index,
        clip_index=clip_index,
        embedder=embedder,
        local_index=local_index,
        query_features=query_features,
        config=config,
        clip_vectors=clip_vectors,
    )
    return _verify_and_localize(image, query_features, candidates, references, config, started)


def match_references(
    image: np.ndarray,
    *,
    reference_ids: list[int],
    references: ReferenceSource,
    config: MatchConfig | None = None,
) -> MatchResult:
    """Like `match_image`, but verifies exactly the given references (no index search): used to
    re-check earlier queries against references added since."""
    config = config or MatchConfig()
    started = time.perf_counter()
    query_features = extract_features(image, config.features)
    candidates = [Candidate(int(ref_id)) for ref_id in dict.fromkeys(reference_ids)]
    return _verify_and_localize(image, query_features, candidates, references, config, started)


def _verify_and_localize(
    image: np.ndarray,
    query_features: Features,
    candidates: list[Candidate],
    references: ReferenceSource,
    config: MatchConfig,
    started: float,
) -> MatchResult:
    timings: dict[str, float] = {"candidates": (time.perf_counter() - started) * 1000}
    verified = []
    for candidate in candidates:
        try:
            reference_features = references.load_reference_features(candidate.reference_id)
        except LookupError:  # removed after the index was read: not a match any more
            continue
        verification = verify(query_features, reference_features, config.verify)
        if verification.accepted:
            verified.append((candidate, verification))
    timings["verify"] = (time.perf_counter() - started) * 1000 - timings["candidates"]
    verified.sort(key=lambda pair: -pair[1].inliers)
    matches = []
    for candidate, verification in verified[: config.max_matches]:
        try:
            matches.append(_localized_match(image, candidate, verification, references, config))
        except LookupError:
            continue
    matches.sort(key=lambda match: (-match.similarity, -match.inliers))
    timings["total"] = (time.perf_counter() - started) * 1000
    timings["localize"] = timings["total"] - timings["verify"] - timings["candidates"]
    return MatchResult(matches=matches, candidates=candidates, timings_ms=timings)


def _localized_match(
    image: np.ndarray,
    candidate: Candidate,
    verification: Any,
    references: ReferenceSource,
    config: MatchConfig,
) -> Match:
    reference_image = references.load_reference_image(candidate.reference_id)
    localization = localize_edits(image, reference_image, verification.transform, config.localize)
    confidence = min(1.0, verification.inliers / SIMILARITY_FULL_INLIERS)
    return Match(
        reference_id=candidate.reference_id,
        similarity=confidence * (1.0 - localization.edited_fraction),
        inliers=verification.inliers,
        transform=verification.transform,
        edited=localization.edited,
        edited_fraction=localization.edited_fraction,
        regions=localization.regions,
        edit_mask=localization.edit_mask,
        spread=verification.spread,
        pdq_distance=candidate.pdq_distance,
        clip_similarity=candidate.clip_similarity,
    )
