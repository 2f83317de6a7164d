"""Find the original of a query image and localise what was edited.

Pipeline: candidates (PDQ dihedral hashes, a global embedding of the image and of its mirror,
local-descriptor votes) -> geometric verification against each candidate's cached local
features, for the query as posted and mirrored -> dense alignment for candidates local features
cannot confirm (low-texture pictures, factcheck.core.dense) -> edit localisation on verified
candidates -> matches ranked best first, and the closest rejected candidates as near misses.
A candidate that verified but whose localisation finds most of its detail changed (another
quote card with the same frame and font, another photo of the same scene) is a near miss too.
Storage is the caller's business: reference features and images come through the
`ReferenceSource` protocol, indexes through `PdqIndex`/`ClipIndex` or `IndexStore`. The global
embedding is an `Embedder`: the learned copy descriptor (factcheck.core.descriptor) or CLIP.

`similarity` in [0, 1] = geometric confidence x unedited share of the overlap, where geometric
confidence = min(1, inliers / SIMILARITY_FULL_INLIERS) for local features and the dense
alignment's score for dense matches. An unaltered copy with solid verification scores 1.0; an
edited copy loses the fraction that was edited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from factcheck.core.dense import (
    DenseConfig,
    DenseVerification,
    confirmable,
    dense_verify,
    edit_fits,
    exact_but_edited,
    is_exact,
)
from factcheck.core.features import (
    FeatureConfig,
    Features,
    extract_features,
    mirror_features,
    mirror_matrix,
)
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
from factcheck.core.verify import CONCENTRATED, Verification, VerifyConfig, verify

SIMILARITY_FULL_INLIERS = 50
VERIFIED_BY_FEATURES = "local_features"
VERIFIED_BY_DENSE = "dense_alignment"
VERIFIED_BY_TIME = (
    "temporal_alignment"  # videos: frames line up in time (factcheck.core.video_match)
)
# The near-miss reason of a candidate that aligns as a whole picture while DenseConfig.confirms is
# off (the default: see factcheck.core.dense for why).
DENSE_NOT_CONFIRMING = "aligns as a whole picture, too little texture to confirm"
# The near-miss reason of a candidate whose alignment is refused on the whole but fits an edited
# copy (its detail agrees all but in one part: factcheck.core.dense.edit_fits).
DENSE_EDIT_NOT_CONFIRMING = "aligns but for one part, too little texture to confirm"
# The near-miss reason when verification gave none.
NOT_VERIFIED = "not verified"
# The near-miss reason of a candidate that aligned but whose detail mostly differs.
DETAIL_DIFFERS = "aligns, but most of the original's detail differs"
# A rejected candidate is a near miss worth a reviewer's look only with some evidence for it.
NEAR_MISS_MIN_INLIERS = 8
NEAR_MISS_MAX_PDQ_DISTANCE = 63
PDQ_NO_DISTANCE = 257  # orders after every Hamming distance (0-256)


class Embedder(Protocol):
    """A global image embedding: L2-normalised rows, so inner product is cosine similarity.
    `min_similarity` is the model's own candidate threshold (CLIP and the learned descriptor
    live on different scales); `dense_confirm_margin` the margin over the query's
    DenseConfig.margin_rank-th most similar reference that lets a dense alignment confirm a
    candidate (None: it never does)."""

    @property
    def dim(self) -> int: ...
    @property
    def min_similarity(self) -> float: ...
    @property
    def dense_confirm_margin(self) -> float | None: ...

    def embed(self, images: list[np.ndarray]) -> np.ndarray: ...


@dataclass(frozen=True)
class MatchConfig:
    pdq_top_k: int = 10
    # Loose on purpose: verification rejects false candidates, and crops/captions push true
    # copies well past the usual 31-bit duplicate threshold. Unrelated hashes sit near 128.
    pdq_max_distance: int = 100
    embedding_top_k: int = 10
    embedding_min_similarity: float | None = None  # None: the embedder's own min_similarity
    max_candidates: int = 16
    max_matches: int = 5  # localisation is the costly step; only the best verified get it
    mirror: bool = True  # verify the mirrored query where the query as posted fails
    near_misses: int = 3  # best rejected candidates reported
    # A verified candidate whose localisation finds more than this share of the reference's
    # detail changed is another picture that shares a frame, a layout or a few glyphs with it
    # (docs/benchmarks.md): reported as a near miss, not a match.
    max_detail_changed: float = 0.5
    features: FeatureConfig = field(default_factory=FeatureConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    dense: DenseConfig = field(default_factory=DenseConfig)
    localize: LocalizeConfig = field(default_factory=LocalizeConfig)


class ReferenceSource(Protocol):
    """Raises LookupError for an id that no longer exists (the candidate is then skipped)."""

    def load_reference_features(self, ref_id: int) -> Features: ...

    def load_reference_image(self, ref_id: int) -> np.ndarray: ...


@dataclass
class Candidate:
    reference_id: int
    pdq_distance: int | None = None
    embedding_similarity: float | None = None
    local_votes: int | None = None
    rank: int = 0  # best rank among the sources that proposed it (0: some source's first)
    # The embedding similarity's lead over the query's DenseConfig.margin_rank-th most similar
    # reference: how much it stands out from the pictures of its kind in this index.
    embedding_margin: float | None = None

    def strength(self) -> float:
        """In [0, 1]: the strongest evidence any source gave (for ordering and near misses)."""
        pdq = 1 - self.pdq_distance / 256 if self.pdq_distance is not None else 0.0
        local = min(1.0, (self.local_votes or 0) / SIMILARITY_FULL_INLIERS)
        return max(pdq, self.embedding_similarity or 0.0, local)


@dataclass
class NearMiss:
    """A candidate that verification rejected, with why: "closest original, not confirmed"."""

    reference_id: int
    reason: str
    inliers: int
    pdq_distance: int | None
    embedding_similarity: float | None
    score: float  # the candidate's strength, for ordering

    def to_dict(self) -> dict[str, Any]:
        similarity = self.embedding_similarity
        return {
            "reference_id": int(self.reference_id),
            "reason": self.reason,
            "inliers": int(self.inliers),
            "pdq_distance": self.pdq_distance,
            "embedding_similarity": None if similarity is None else round(float(similarity), 4),
        }


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
    embedding_similarity: float | None = None
    mirrored: bool = False  # the query is a horizontal mirror of the reference
    verified_by: str = VERIFIED_BY_FEATURES
    detail_changed: float | None = None  # factcheck.core.localize.Localization.detail_changed

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
            "mirrored": bool(self.mirrored),
            "verified_by": self.verified_by,
        }


@dataclass
class MatchResult:
    matches: list[Match]
    candidates: list[Candidate]
    timings_ms: dict[str, float]
    near_misses: list[NearMiss] = field(default_factory=list)


def _resolve(index: PdqIndex | ClipIndex | LocalIndex | IndexStore | None) -> Any:
    return index.get() if isinstance(index, IndexStore) else index


def find_candidates(
    image: np.ndarray,
    *,
    pdq_index: Any,
    embedding_index: Any = None,
    embedder: Embedder | None = None,
    local_index: Any = None,
    query_features: Features | None = None,
    config: MatchConfig | None = None,
    exact_vectors: ExactVectors | None = None,
) -> list[Candidate]:
    """Union of PDQ, embedding and local-descriptor candidates, best rank first.

    Each source ranks its own candidates; the union is ordered by the best rank a candidate
    got from any source (then by strength), so no source's scale crowds out another's. The
    embedding searches with the image and its horizontal mirror. `exact_vectors` gives the
    references' full-precision embeddings so a compressed index can re-rank exactly."""
    config = config or MatchConfig()
    candidates: dict[int, Candidate] = {}

    def propose(ref_id: int, rank: int) -> Candidate:
        candidate = candidates.get(ref_id)
        if candidate is None:
            candidate = candidates[ref_id] = Candidate(ref_id, rank=rank)
        candidate.rank = min(candidate.rank, rank)
        return candidate

    pdq = _resolve(pdq_index)
    if pdq is not None and len(pdq):
        hashes, _ = pdq_dihedral_hashes(image)
        ids, distances = pdq.search(hashes, config.pdq_top_k, primary=1)  # 1: as posted
        best = best_distance_per_id(ids, distances, config.pdq_max_distance)
        for rank, (ref_id, distance) in enumerate(list(best.items())[: config.pdq_top_k]):
            propose(ref_id, rank).pdq_distance = distance
    embedding = _resolve(embedding_index)
    if embedding is not None and embedder is not None and len(embedding):
        minimum = config.embedding_min_similarity
        minimum = embedder.min_similarity if minimum is None else minimum
        found = embedding_search(
            image,
            embedding,
            embedder,
            max(config.embedding_top_k, config.dense.margin_rank + 1),
            exact_vectors,
        )
        # None where the index holds too few references to tell how a candidate stands out.
        rank_of_baseline = config.dense.margin_rank
        baseline = found[rank_of_baseline][1] if len(found) > rank_of_baseline else None
        for rank, (ref_id, similarity) in enumerate(found[: config.embedding_top_k]):
            if similarity >= minimum:
                candidate = propose(ref_id, rank)
                candidate.embedding_similarity = similarity
                if baseline is not None:
                    candidate.embedding_margin = similarity - baseline
    local = _resolve(local_index)
    if local is not None and query_features is not None:
        votes = sorted(local.search_votes(query_features).items(), key=lambda item: -item[1])
        for rank, (ref_id, count) in enumerate(votes):
            propose(ref_id, rank).local_votes = count
    ordered = sorted(candidates.values(), key=lambda c: (c.rank, -c.strength(), c.reference_id))
    return ordered[: config.max_candidates]


def embedding_search(
    image: np.ndarray,
    index: Any,
    embedder: Embedder,
    k: int,
    exact_vectors: ExactVectors | None = None,
) -> list[tuple[int, float]]:
    """(reference id, best cosine similarity of the image or its mirror), best first."""
    mirrored = np.ascontiguousarray(image[:, ::-1])
    ids, similarities = index.search(embedder.embed([image, mirrored]), k, exact_vectors)
    best: dict[int, float] = {}
    for ref_id, similarity in zip(
        ids.reshape(-1).tolist(), similarities.reshape(-1).tolist(), strict=True
    ):
        if ref_id != MISSING_ID and similarity > best.get(ref_id, -np.inf):
            best[ref_id] = float(similarity)
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]


def match_image(
    image: np.ndarray,
    *,
    references: ReferenceSource,
    pdq_index: Any,
    embedding_index: Any = None,
    embedder: Embedder | None = None,
    local_index: Any = None,
    config: MatchConfig | None = None,
    exact_vectors: ExactVectors | None = None,
) -> MatchResult:
    """Verified matches for `image`, best first (see module docstring for `similarity`).

    Indexes may be given as loaded indexes or as `IndexStore`s (hot-reloaded); any may be None.
    """
    config = config or MatchConfig()
    started = time.perf_counter()
    query_features = extract_features(image, config.features)
    features_ms = (time.perf_counter() - started) * 1000
    candidates = find_candidates(
        image,
        pdq_index=pdq_index,
        embedding_index=embedding_index,
        embedder=embedder,
        local_index=local_index,
        query_features=query_features,
        config=config,
        exact_vectors=exact_vectors,
    )
    margin = embedder.dense_confirm_margin if embedder is not None else None
    return _verify_and_localize(
        image, query_features, candidates, references, config, (started, features_ms), margin
    )


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
    features_ms = (time.perf_counter() - started) * 1000
    candidates = [Candidate(int(ref_id)) for ref_id in dict.fromkeys(reference_ids)]
    return _verify_and_localize(
        image, query_features, candidates, references, config, (started, features_ms)
    )


@dataclass
class _Verified:
    candidate: Candidate
    transform: np.ndarray  # reference -> query, full resolution
    confidence: float  # in [0, 1]
    inliers: int = 0
    spread: float = 0.0
    mirrored: bool = False
    verified_by: str = VERIFIED_BY_FEATURES


class _QueryViews:
    """The query's local features as posted and, computed once when first needed, mirrored."""

    def __init__(self, features: Features) -> None:
        self.features = features
        self._mirrored: Features | None = None

    @property
    def mirrored(self) -> Features:
        if self._mirrored is None:
            self._mirrored = mirror_features(self.features)
        return self._mirrored


def _feature_verification(
    views: _QueryViews, reference: Features, config: MatchConfig, orientation: bool | None = None
) -> tuple[Verification, bool]:
    """(verification, mirrored): the query as posted, then its mirror if that fails; only the
    given orientation (mirrored or not) once a sure match has settled it."""
    if orientation is not None:
        query = views.mirrored if orientation else views.features
        return verify(query, reference, config.verify), orientation
    verification = verify(views.features, reference, config.verify)
    if verification.accepted or not config.mirror:
        return verification, False
    flipped = verify(views.mirrored, reference, config.verify)
    if flipped.accepted or flipped.inliers > verification.inliers:
        return flipped, True
    return verification, False


def _dense_worthy(candidate: Candidate, config: MatchConfig) -> bool:
    """Dense alignment checks what a global index proposed (a whole-picture likeness) and local
    features could not confirm; local-descriptor votes alone are no reason to."""
    proposed = candidate.embedding_similarity is not None or candidate.pdq_distance is not None
    return config.dense.enabled and proposed


def _verify_and_localize(
    image: np.ndarray,
    query_features: Features,
    candidates: list[Candidate],
    references: ReferenceSource,
    config: MatchConfig,
    clock: tuple[float, float],
    confirm_margin: float | None = None,
) -> MatchResult:
    """`clock`: when matching started and the milliseconds the query's local features took.
    `confirm_margin`: the embedder's dense_confirm_margin (None: dense alignment confirms
    nothing unless DenseConfig.confirms)."""
    started, features_ms = clock
    # Milliseconds per step: local features of the query, the candidate search (fingerprints,
    # embeddings, index searches), verification, localisation.
    timings: dict[str, float] = {
        "features": features_ms,
        "candidates": (time.perf_counter() - started) * 1000 - features_ms,
    }
    views = _QueryViews(query_features)
    width = image.shape[1]
    verified: list[_Verified] = []
    rejected: list[tuple[Candidate, Verification]] = []
    # reference id -> local features' fit (reference -> query) where they matched in one part
    anchors: dict[int, np.ndarray] = {}
    orientation: bool | None = None  # settled by the first sure match
    for candidate in candidates:
        try:
            reference_features = references.load_reference_features(candidate.reference_id)
        except LookupError:  # removed after the index was read: not a match any more
            continue
        verification, mirrored = _feature_verification(
            views, reference_features, config, orientation
        )
        transform = verification.transform
        if mirrored and transform is not None:  # fitted to the mirrored query: add the mirror
            transform = mirror_matrix(width) @ transform
        if not verification.accepted or transform is None:  # accepted: has one
            rejected.append((candidate, verification))
            if verification.reason == CONCENTRATED and transform is not None:
                anchors[candidate.reference_id] = transform
            continue
        confidence = min(1.0, verification.inliers / SIMILARITY_FULL_INLIERS)
        if confidence >= 1.0 and orientation is None:
            orientation = mirrored
        verified.append(
            _Verified(
                candidate,
                transform,
                confidence,
                verification.inliers,
                verification.spread,
                mirrored,
            )
        )
    reasons = {candidate.reference_id: verification.reason for candidate, verification in rejected}
    near: list[NearMiss] = []
    verify_ms = (time.perf_counter() - started) * 1000 - features_ms - timings["candidates"]
    matches = _alike_matches(image, verified, references, config, near)
    if not matches:
        # Dense alignment is the fallback for pictures local features cannot verify: it is not
        # run once a candidate verified as the same picture (it would only find near misses, at
        # tens of ms each), but it is when every verified one proved another picture of the
        # same layout (DETAIL_DIFFERS).
        began = time.perf_counter()
        dense_verified = _dense_pass(
            image, rejected, anchors, references, config, confirm_margin, reasons
        )
        verify_ms += (time.perf_counter() - began) * 1000
        matches = _alike_matches(image, dense_verified, references, config, near)
    near += [
        _near_miss(c, v.inliers, reasons[c.reference_id])
        for c, v in rejected
        if c.reference_id in reasons
    ]
    matches.sort(key=lambda match: (-match.similarity, -match.inliers))
    timings["verify"] = verify_ms
    timings["total"] = (time.perf_counter() - started) * 1000
    timings["localize"] = timings["total"] - features_ms - timings["verify"] - timings["candidates"]
    return MatchResult(
        matches=matches,
        candidates=candidates,
        timings_ms=timings,
        near_misses=_near_misses(near, config),
    )


def _dense_pass(
    image: np.ndarray,
    rejected: list[tuple[Candidate, Verification]],
    anchors: dict[int, np.ndarray],
    references: ReferenceSource,
    config: MatchConfig,
    confirm_margin: float | None,
    reasons: dict[int, str],
) -> list[_Verified]:
    """Dense alignment of the candidates local features rejected: first those whose matching
    points all sat in one part of the picture (a text card's words; `anchors`, in candidate
    order, whatever their rank), started from that fit as well, which finds a crop off centre
    the generic start hypotheses miss; then the whole-picture likeness first (a loose PDQ
    candidate must not take the place of the one the embedding finds most alike). The bar is
    dense_confirms' for both: matching words and a whole picture that aligns do not make a lower
    one, since two smooth pictures of one kind with one caption (two dusk scenes, "NOT WHAT IT
    SEEMS") have both. When none of those confirms, the next `max_exact_only` candidates in
    likeness order are checked too, confirmed by an exact alignment only: a mirrored crop's
    original can rank below unrelated pictures of its kind, and then it has no lead.
    A confirmed candidate leaves `reasons`, a refused one's reason is updated."""
    anchored = [(c, v.inliers) for c, v in rejected if c.reference_id in anchors]
    anchored = anchored[: config.dense.max_anchored]
    checked = {c.reference_id for c, _ in anchored}
    worthy = sorted(
        (c for c, _ in rejected if c.reference_id not in checked and _dense_worthy(c, config)),
        key=_likeness_order,
    )
    dense_config = config.dense
    first = anchored + [(c, 0) for c in worthy[: dense_config.max_candidates]]
    verified = _dense_checks(image, first, anchors, references, config, confirm_margin, reasons)
    if not verified:  # further down the likeness order, only an exact alignment confirms
        after = worthy[dense_config.max_candidates :][: dense_config.max_exact_only]
        after_checks = [(c, 0) for c in after]
        verified = _dense_checks(image, after_checks, anchors, references, config, None, reasons)
    return verified


def _dense_checks(
    image: np.ndarray,
    checks: list[tuple[Candidate, int]],
    anchors: dict[int, np.ndarray],
    references: ReferenceSource,
    config: MatchConfig,
    confirm_margin: float | None,
    reasons: dict[int, str],
) -> list[_Verified]:
    """Dense alignment of each (candidate, local features' inliers) in `checks`, on
    dense_confirms' bar (`confirm_margin` None: an exact alignment only)."""
    verified = []
    for candidate, inliers in checks:
        anchor = anchors.get(candidate.reference_id)
        dense = _dense(image, candidate, references, config, anchor)
        if dense is None:
            continue
        if dense.transform is not None and dense_confirms(
            dense, candidate.embedding_margin, config.dense, confirm_margin
        ):
            verified.append(
                _Verified(
                    candidate,
                    dense.transform,
                    dense.score,
                    inliers,
                    mirrored=dense.mirrored,
                    verified_by=VERIFIED_BY_DENSE,
                )
            )
            del reasons[candidate.reference_id]
        elif not dense.accepted and edit_fits(dense, config.dense):
            reasons[candidate.reference_id] = DENSE_EDIT_NOT_CONFIRMING
        else:
            reasons[candidate.reference_id] = dense.reason or DENSE_NOT_CONFIRMING
    return verified


def _alike_matches(
    image: np.ndarray,
    verified: list[_Verified],
    references: ReferenceSource,
    config: MatchConfig,
    near: list[NearMiss],
) -> list[Match]:
    """The best verified candidates localised; one most of whose detail differs from the query
    (another picture of the same layout) becomes a near miss in `near` instead."""
    matches = []
    for item in sorted(verified, key=lambda item: (-item.confidence, -item.inliers))[
        : config.max_matches
    ]:
        try:
            match = _localized_match(image, item, references, config)
        except LookupError:
            continue
        if match.detail_changed is not None and match.detail_changed > config.max_detail_changed:
            near.append(_near_miss(item.candidate, item.inliers, DETAIL_DIFFERS))
        else:
            matches.append(match)
    return matches


def _likeness_order(candidate: Candidate) -> tuple[float, int, int]:
    """Most similar by the global embedding first, then nearest by PDQ, then candidate rank."""
    similarity = candidate.embedding_similarity
    distance = candidate.pdq_distance
    return (
        -similarity if similarity is not None else 1.0,
        distance if distance is not None else PDQ_NO_DISTANCE,
        candidate.rank,
    )


def dense_confirms(
    dense: DenseVerification, lead: float | None, config: DenseConfig, margin: float | None
) -> bool:
    """Whether an accepted dense alignment verifies its candidate, given the candidate's
    embedding lead (Candidate.embedding_margin) and the embedder's dense_confirm_margin: when
    configured to on its own, when the alignment is exact (factcheck.core.dense.is_exact), else
    when its fine detail agrees across the picture (confirmable) and the global embedding singles
    the candidate out among the index's pictures. Two smooth fog fields align about as well as a
    fog and its copy on the whole; what tells them apart is that the copy agrees with its
    original in every part of the picture, and is far closer to it than to any other indexed
    fog, where an unrelated fog is about as close to several (docs/benchmarks.md). An alignment
    that only fits an edited copy (edit_fits) does not verify, lead or not: another text card of
    the same layout with other words fits one as well, and was confirmed so on the hard tier's
    test split. One exact but in a part that differs (exact_but_edited) verifies as an exact
    one does where DenseConfig.edited_confirms is on (off by default: see there)."""
    if config.edited_confirms and exact_but_edited(dense, config):
        return True
    if not dense.accepted:
        return False
    if config.confirms or is_exact(dense, config):
        return True
    return confirmable(dense, config) and margin is not None and lead is not None and lead >= margin


def _dense(
    image: np.ndarray,
    candidate: Candidate,
    references: ReferenceSource,
    config: MatchConfig,
    anchor: np.ndarray | None = None,
) -> DenseVerification | None:
    try:
        reference_image = references.load_reference_image(candidate.reference_id)
    except LookupError:
        return None
    return dense_verify(image, reference_image, config.dense, anchor)


def _near_miss(candidate: Candidate, inliers: int, reason: str) -> NearMiss:
    return NearMiss(
        reference_id=candidate.reference_id,
        reason=reason or NOT_VERIFIED,
        inliers=inliers,
        pdq_distance=candidate.pdq_distance,
        embedding_similarity=candidate.embedding_similarity,
        score=max(candidate.strength(), min(1.0, inliers / SIMILARITY_FULL_INLIERS)),
    )


def _near_misses(rejected: list[NearMiss], config: MatchConfig) -> list[NearMiss]:
    """The best rejected candidates that had real evidence for them, strongest first."""

    def evidence(miss: NearMiss) -> bool:
        return (
            miss.inliers >= NEAR_MISS_MIN_INLIERS
            or miss.embedding_similarity is not None
            or (miss.pdq_distance is not None and miss.pdq_distance <= NEAR_MISS_MAX_PDQ_DISTANCE)
        )

    kept = sorted(filter(evidence, rejected), key=lambda miss: (-miss.score, miss.reference_id))
    return kept[: config.near_misses]


def _localized_match(
    image: np.ndarray, item: _Verified, references: ReferenceSource, config: MatchConfig
) -> Match:
    reference_image = references.load_reference_image(item.candidate.reference_id)
    localization = localize_edits(image, reference_image, item.transform, config.localize)
    transform = item.transform if localization.transform is None else localization.transform
    return Match(
        reference_id=item.candidate.reference_id,
        similarity=item.confidence * (1.0 - localization.edited_fraction),
        inliers=item.inliers,
        transform=transform,
        edited=localization.edited,
        edited_fraction=localization.edited_fraction,
        regions=localization.regions,
        edit_mask=localization.edit_mask,
        spread=item.spread,
        pdq_distance=item.candidate.pdq_distance,
        embedding_similarity=item.candidate.embedding_similarity,
        mirrored=item.mirrored,
        verified_by=item.verified_by,
        detail_changed=localization.detail_changed,
    )
