"""Reads of fact-check retrieval: the verified originals an image was derived from.

`image_matches` searches every index; `reference_ids_matching` verifies given references only
(to re-check earlier submissions when references are added). Both use the process-wide,
hot-reloading index readers (factcheck.indexing.index_reader), the cached reference source
(factcheck.reference_source) and, when configured, the process-wide global embedding
(factcheck.embedding: the learned copy descriptor, or CLIP).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import cv2
import numpy as np
from django.conf import settings

from factcheck.core.index import ClipIndex
from factcheck.core.layered import LayeredClipIndex
from factcheck.core.localize import aligned_reference
from factcheck.core.matcher import (
    Embedder,
    MatchConfig,
    MatchResult,
    NearMiss,
    match_image,
    match_references,
)
from factcheck.embedding import configured_embedder, embedding_models, embedding_tag
from factcheck.indexing import (
    EMBEDDING_INDEX,
    LOCAL_INDEX,
    PDQ_INDEX,
    embedding_space,
    faiss_threads_apply,
    index_reader,
)
from factcheck.models import Reference
from factcheck.reference_source import (
    ReferenceMissing,
    match_item,
    reference_summary,
    stored_references,
)
from factcheck.video_stills import video_frame_matches


@dataclass
class ImageMatches:
    matches: list[dict[str, Any]]  # report `matches` items, best first
    edit_masks: list[np.ndarray]  # uint8 0/255, query grid, one per match
    aligned_references: list[np.ndarray]  # RGB uint8 reference in the query grid, one per match
    candidates: int  # how many candidates were verified
    timings_ms: dict[str, float] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    # Report `near_misses` items: the closest candidates verification rejected, best first.
    near_misses: list[dict[str, Any]] = field(default_factory=list)


def match_config() -> MatchConfig:
    return dataclasses.replace(MatchConfig(), **settings.FACTCHECK_MATCH)


def _check_image(image: np.ndarray) -> None:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3):
        raise ValueError("expected an RGB uint8 array of shape (H, W, 3)")
    if image.shape[2] != 3:
        raise ValueError(f"expected 3 colour channels, got {image.shape[2]}")


def _embedding_index(embedder: Embedder) -> ClipIndex | LayeredClipIndex | None:
    """The published embedding index (its base alone, or with deltas) when it holds the
    configured space: after a model switch, until the writer has rebuilt it, it holds another
    model's vectors (maybe of another size)."""
    store = index_reader(EMBEDDING_INDEX)
    index = store.get()
    if not isinstance(index, ClipIndex | LayeredClipIndex) or index.config.dim != embedder.dim:
        return None
    return index if embedding_space(store) == embedding_tag() else None


def image_matches(*, image: np.ndarray) -> ImageMatches:
    """Verified originals of `image` (RGB uint8, decoded and upright), best first."""
    _check_image(image)
    embedder = configured_embedder()
    source = stored_references()
    result = match_image(
        image,
        references=source,
        pdq_index=index_reader(PDQ_INDEX),
        embedding_index=_embedding_index(embedder) if embedder is not None else None,
        embedder=embedder,
        local_index=index_reader(LOCAL_INDEX),
        config=match_config(),
        exact_vectors=source.embedding_vectors,
    )
    found = _image_matches(image, result, embedding=embedder is not None)
    started = time.perf_counter()
    rows = {int(match["reference"]["id"]): row for row, match in enumerate(found.matches)}
    for frame in video_frame_matches(image):
        # A reference video the image indexes found by its poster is replaced by its frame
        # match, which says when and compares the image with the frame it shows.
        row = rows.get(int(frame.item["reference"]["id"]))
        if row is None:
            found.matches.append(frame.item)
            found.edit_masks.append(frame.edit_mask)
            found.aligned_references.append(frame.aligned_reference)
        else:
            found.matches[row] = frame.item
            found.edit_masks[row] = frame.edit_mask
            found.aligned_references[row] = frame.aligned_reference
    found.timings_ms["video_frames"] = round((time.perf_counter() - started) * 1000, 1)
    return found


def reference_ids_matching(*, image: np.ndarray, reference_ids: list[int]) -> ImageMatches:
    """Like `image_matches`, restricted to verifying the given references (no index search)."""
    _check_image(image)
    faiss_threads_apply()  # no index is read here, but verification's 2-NN runs on FAISS
    result = match_references(
        image,
        reference_ids=[int(ref_id) for ref_id in reference_ids],
        references=stored_references(),
        config=match_config(),
    )
    return _image_matches(image, result, embedding=False)


def _image_matches(image: np.ndarray, result: MatchResult, *, embedding: bool) -> ImageMatches:
    started = time.perf_counter()
    rows = Reference.objects.in_bulk(
        [match.reference_id for match in result.matches]
        + [miss.reference_id for miss in result.near_misses]
    )
    source = stored_references()
    matches, masks, aligned = [], [], []
    for match in result.matches:
        reference = rows.get(match.reference_id)
        if reference is None:  # removed while we were matching
            continue
        try:
            warped = aligned_reference(
                source.load_reference_image(match.reference_id), match.transform, image.shape
            )
        except ReferenceMissing:
            continue
        matches.append(match_item(match, reference))
        masks.append(match.edit_mask)
        aligned.append(warped)
    timings = {key: round(value, 1) for key, value in result.timings_ms.items()}
    timings["align"] = round((time.perf_counter() - started) * 1000, 1)
    timings["total"] = round(timings.get("total", 0.0) + timings["align"], 1)
    return ImageMatches(
        matches=matches,
        edit_masks=masks,
        aligned_references=aligned,
        candidates=len(result.candidates),
        timings_ms=timings,
        models=model_versions(embedding=embedding),
        near_misses=[
            _near_miss_item(miss, rows[miss.reference_id])
            for miss in result.near_misses
            if miss.reference_id in rows  # removed while we were matching
        ],
    )


def _near_miss_item(miss: NearMiss, reference: Reference) -> dict[str, Any]:
    item = miss.to_dict()
    item.pop("reference_id")
    return {"reference": reference_summary(reference), **item}


def model_versions(*, embedding: bool) -> dict[str, str]:
    """Library versions, plus the global embedding's ("clip": "<model>/<weights>" or
    "descriptor": "<tag>") when it took part."""
    models = dict(_library_versions())
    if embedding:
        models.update(embedding_models())
    return models


@cache
def _library_versions() -> tuple[tuple[str, str], ...]:
    def package(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "unknown"

    return (
        ("pdq", f"pdqhash-{package('pdqhash')}"),
        ("sift", f"opencv-{cv2.__version__}"),
        ("faiss", f"faiss-{package('faiss-cpu')}"),
    )
