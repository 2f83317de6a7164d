"""Edit localisation: align the reference onto the query and map where content differs.

Only the valid overlap is compared: borders, caption bands and cropped-away parts lie outside
the warped reference and are not edits. Global photometric changes (brightness, contrast, colour
grading) are removed by tone curves fitted on the aligned pixel pairs (factcheck.core.tone); JPEG
noise, resampling and
sub-pixel misalignment are absorbed by comparing at a working resolution, blurring both images,
and measuring colour distance to the reference's local min/max envelope rather than to single
pixels. Before comparing, the alignment is refined photometrically (ECC on the working grid,
started from the verified transform): a homography fitted on a few keypoints of a flat picture
is a pixel or two off along its edges, which would otherwise show as thin "edited" slivers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from factcheck.core.features import resize_matrix, scaled_size
from factcheck.core.frames import frame_mask
from factcheck.core.regions import classify_regions
from factcheck.core.tone import match_tone

DEFAULT_WORKING_SIZE = 512


@dataclass(frozen=True)
class LocalizeConfig:
    working_size: int = DEFAULT_WORKING_SIZE
    blur_sigma: float = 1.0
    border_erode_px: int = 3  # interpolation smears the overlap border; ignore it
    tone_bins: int = 64  # tone-curve resolution (factcheck.core.tone)
    envelope_px: int = 1  # misalignment tolerance (radius of the min/max envelope)
    # Tuned on the `tune` case split (docs/benchmarks.md): Lab distance outside the envelope
    # counted as different, and SSIM below ssim_threshold with some colour change.
    color_threshold: float = 8.0
    ssim_threshold: float = 0.7
    ssim_color_threshold: float = 3.0
    open_px: int = 2
    close_px: int = 5
    min_region_fraction: float = 0.002  # of the overlap; smaller blobs are noise
    min_edited_fraction: float = 0.002
    exclude_frames: bool = True  # caption bands over cropped-away parts (factcheck.core.frames)
    # Photometric refinement of the alignment (ECC, homography) before comparing; a refinement
    # that moves a corner of the working grid further than refine_max_shift (share of its longer
    # side) or does not raise the correlation is discarded (edits and flat regions mislead it).
    refine: bool = True
    refine_iterations: int = 30
    refine_sigma: float = 1.5
    refine_max_shift: float = 0.05
    # The reference's detail: pixels whose blurred grey gradient (Sobel, grey levels) exceeds
    # detail_gradient; fewer than detail_min_fraction of the compared area: too flat to tell.
    detail_gradient: float = 40.0
    detail_min_fraction: float = 0.005


@dataclass
class Localization:
    edit_mask: np.ndarray  # uint8 0/255, query full-resolution grid
    overlap_mask: np.ndarray  # uint8 0/255, where the reference was compared
    edited: bool
    edited_fraction: float  # edited pixels / overlap pixels
    regions: list[dict[str, Any]] = field(default_factory=list)
    transform: np.ndarray | None = None  # reference->query as compared (refined), full size
    # Share of the reference's detail (edges, lines, text) that differs in the query; None where
    # the reference has too little detail. A copy keeps most of it even when edited; another
    # picture that only shares a frame or a few glyphs with the reference does not.
    detail_changed: float | None = None


def _working_transform(
    transform: np.ndarray, query_shape: tuple[int, int], size: int
) -> tuple[np.ndarray, tuple[int, int]]:
    height, width = query_shape
    work_size = scaled_size(query_shape, min(1.0, size / max(height, width)))
    return resize_matrix((width, height), work_size) @ transform, work_size


def warp_reference(
    reference: np.ndarray, transform: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Reference warped into a (width, height) grid, pre-shrunk to avoid aliasing when the
    homography downsamples a lot; returns (warped image, valid mask 0/255)."""
    normalised = transform / transform[2, 2]
    scale = float(np.sqrt(abs(np.linalg.det(normalised[:2, :2]))))
    if scale < 0.75:
        height, width = reference.shape[:2]
        shrunk_size = scaled_size(reference.shape, scale)
        shrunk = cv2.resize(reference, shrunk_size, interpolation=cv2.INTER_AREA)
        back = resize_matrix(shrunk_size, (width, height))
        reference, normalised = shrunk, normalised @ back
    warped = cv2.warpPerspective(reference, normalised, size, flags=cv2.INTER_LINEAR)
    ones = np.full(reference.shape[:2], 255, np.uint8)
    valid = cv2.warpPerspective(ones, normalised, size, flags=cv2.INTER_NEAREST)
    return warped, valid


def aligned_reference(
    reference: np.ndarray, transform: np.ndarray, query_shape: tuple[int, ...]
) -> np.ndarray:
    """The reference warped into the query's full-resolution pixel grid (zeros outside the
    overlap), so the two can be shown side by side or blinked in the review UI."""
    height, width = query_shape[:2]
    warped, _ = warp_reference(reference, np.asarray(transform, np.float64), (width, height))
    return np.ascontiguousarray(warped, dtype=np.uint8)


def _lab(image: np.ndarray) -> np.ndarray:
    lab: np.ndarray = cv2.cvtColor(
        np.clip(image, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB
    )
    return lab


def _envelope_distance(image: np.ndarray, other: np.ndarray, radius: int) -> np.ndarray:
    """Per-pixel Lab distance from `image` to the [min, max] box of `other`'s neighbourhood."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1))
    low, high = cv2.erode(other, kernel), cv2.dilate(other, kernel)
    outside = np.maximum(low - image, 0) + np.maximum(image - high, 0)
    distance: np.ndarray = np.sqrt((outside**2).sum(axis=2))
    return distance


def difference_mask(
    query: np.ndarray, reference: np.ndarray, valid: np.ndarray, config: LocalizeConfig
) -> np.ndarray:
    """Binary (bool) map of pixels that differ, working resolution."""
    reference = match_tone(
        reference.astype(np.float32), query.astype(np.float32), valid, config.tone_bins
    )
    sigma = config.blur_sigma
    query_lab = _lab(cv2.GaussianBlur(query.astype(np.float32), (0, 0), sigma))
    reference_lab = _lab(cv2.GaussianBlur(reference, (0, 0), sigma))
    radius = config.envelope_px
    color = np.maximum(
        _envelope_distance(query_lab, reference_lab, radius),
        _envelope_distance(reference_lab, query_lab, radius),
    )
    _, ssim_map = structural_similarity(
        query_lab[..., 0], reference_lab[..., 0], data_range=100.0, full=True, win_size=7
    )
    different = (color > config.color_threshold) | (
        (ssim_map < config.ssim_threshold) & (color > config.ssim_color_threshold)
    )
    changed: np.ndarray = different & (valid > 0)
    return changed


def _clean(mask: np.ndarray, valid: np.ndarray, config: LocalizeConfig) -> np.ndarray:
    mask = mask.astype(np.uint8) * 255
    if config.open_px:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * config.open_px + 1,) * 2)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    if config.close_px:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * config.close_px + 1,) * 2)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    mask &= valid
    min_area = config.min_region_fraction * max(1, int((valid > 0).sum()))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def _masked_correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    a, b = a[mask] - a[mask].mean(), b[mask] - b[mask].mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 1e-9 else 0.0


def refine_alignment(
    query: np.ndarray, warped: np.ndarray, valid: np.ndarray, config: LocalizeConfig
) -> np.ndarray | None:
    """A homography H (query grid -> warped grid: warped(Hx) ~ query(x)) correcting a slightly
    off alignment, or None where ECC fails, moves too far or does not improve the fit."""
    mask = valid > 0
    if mask.sum() < 64:
        return None
    sigma = config.refine_sigma
    query_grey = cv2.GaussianBlur(cv2.cvtColor(query, cv2.COLOR_RGB2GRAY), (0, 0), sigma)
    warped_grey = cv2.GaussianBlur(cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY), (0, 0), sigma)
    query_grey, warped_grey = query_grey.astype(np.float32), warped_grey.astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, config.refine_iterations, 1e-5)
    warp = np.eye(3, dtype=np.float32)
    try:
        cv2.findTransformECC(
            query_grey, warped_grey, warp, cv2.MOTION_HOMOGRAPHY, criteria, valid, 1
        )
    except cv2.error:  # no convergence (flat overlap)
        return None
    height, width = mask.shape
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float32)
    moved = cv2.perspectiveTransform(corners[None], warp.astype(np.float64))[0]
    if np.abs(moved - corners).max() > config.refine_max_shift * max(height, width):
        return None
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    refined = cv2.warpPerspective(warped_grey, warp, (width, height), flags=flags)
    inside = cv2.warpPerspective(
        valid, warp, (width, height), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    both = mask & (inside > 0)
    before = _masked_correlation(query_grey, warped_grey, both)
    after = _masked_correlation(query_grey, refined, both)
    return warp.astype(np.float64) if after > before else None


def localize_edits(
    query: np.ndarray,
    reference: np.ndarray,
    transform: np.ndarray,
    config: LocalizeConfig | None = None,
) -> Localization:
    """Compare `reference` (warped by `transform`, reference->query pixels) with `query`."""
    config = config or LocalizeConfig()
    query_h, query_w = query.shape[:2]
    work_transform, work_size = _working_transform(
        transform, (query_h, query_w), config.working_size
    )
    query_small = cv2.resize(query, work_size, interpolation=cv2.INTER_AREA)
    compared = _compare(query_small, reference, work_transform, work_size, config)
    if config.refine and compared is not None:
        correction = refine_alignment(query_small, compared.warped, compared.raw_valid, config)
        if correction is not None:
            # warped(Hx) = reference(T^-1 H x): the reference -> query map becomes H^-1 T.
            work_refined = np.linalg.inv(correction) @ work_transform
            refined = _compare(query_small, reference, work_refined, work_size, config)
            # An edit can pull ECC off as well as a misfit can pull it on: keep the alignment
            # under which less of the picture differs.
            if refined is not None and refined.fraction < compared.fraction:
                # Full size: T = S^-1 T_work (S the working scale), so T' = T T_work^-1 T'_work.
                transform = transform @ np.linalg.inv(work_transform) @ work_refined
                compared = refined
    if compared is None:
        empty = np.zeros((query_h, query_w), np.uint8)
        return Localization(empty, empty.copy(), False, 0.0, transform=transform)
    mask_small, valid = compared.mask, compared.valid
    edit_mask = cv2.resize(mask_small, (query_w, query_h), interpolation=cv2.INTER_NEAREST)
    overlap = cv2.resize(valid, (query_w, query_h), interpolation=cv2.INTER_NEAREST)
    regions = classify_regions(query_small, compared.warped, mask_small, (query_h, query_w))
    edited = compared.fraction >= config.min_edited_fraction and bool(regions)
    detail = detail_changed(compared, config)
    return Localization(edit_mask, overlap, edited, compared.fraction, regions, transform, detail)


def detail_changed(compared: _Comparison, config: LocalizeConfig) -> float | None:
    """The share of the warped reference's detail pixels (in the compared area) that the
    difference mask covers; None where the reference has too little detail to tell."""
    grey = cv2.GaussianBlur(
        cv2.cvtColor(compared.warped, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0
    )
    magnitude = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    detail = (magnitude > config.detail_gradient) & (compared.valid > 0)
    count = int(detail.sum())
    if count < config.detail_min_fraction * int((compared.valid > 0).sum()):
        return None
    return float((compared.mask[detail] > 0).sum()) / count


@dataclass
class _Comparison:
    warped: np.ndarray  # the reference in the working grid
    raw_valid: np.ndarray  # where it lands
    valid: np.ndarray  # where it is compared (borders eroded, frames excluded)
    mask: np.ndarray  # uint8 0/255 differences, working grid
    fraction: float  # differing share of the compared area


def _compare(
    query_small: np.ndarray,
    reference: np.ndarray,
    work_transform: np.ndarray,
    work_size: tuple[int, int],
    config: LocalizeConfig,
) -> _Comparison | None:
    """The reference warped by `work_transform` compared with the query; None: no overlap."""
    warped, raw_valid = warp_reference(reference, work_transform, work_size)
    valid = raw_valid
    if config.border_erode_px:
        kernel = np.ones((2 * config.border_erode_px + 1,) * 2, np.uint8)
        valid = cv2.erode(valid, kernel)
    if config.exclude_frames:
        valid = valid.copy()
        valid[frame_mask(query_small, warped, valid)] = 0
    if not valid.any():
        return None
    mask = _clean(difference_mask(query_small, warped, valid, config), valid, config)
    fraction = float((mask > 0).sum()) / float((valid > 0).sum())
    return _Comparison(warped, raw_valid, valid, mask, fraction)
