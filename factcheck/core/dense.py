"""Dense verification: confirm a candidate that local features cannot (low-texture pictures).

Skies, fog, gradients and flat illustrations give SIFT too few keypoints to fit a homography,
but their pixels still pin down the alignment. Both images are shrunk to thumbnails and the
candidate is aligned onto the query by ECC (enhanced correlation coefficient maximisation,
Evangelidis & Psarakis 2008; `cv2.findTransformECC`) with an affine model, started from a few
hypotheses: the whole reference filling the query, centred crops of it, each as posted and
mirrored. ECC compares only where the warped reference lands, so crops, borders and caption
bands do not count against it.

The aligned pair is then scored three ways, all of which a copy passes and an unrelated picture
of the same kind (another sky, another gradient) fails at least one of:
- `correlation`: zero-mean normalised correlation of the blurred grey images (ECC's own score);
- `detail`: the same correlation of band-pass (difference-of-Gaussians) images, which two smooth
  gradients only share when they are the same picture;
- `colour`: the mean Lab distance after matching mean lightness (a copy's brightness may
  change; its colours move together and stay close).
An accepted alignment is a candidate; whether it confirms a match is decided with the per-cell
detail (`detail_floor`: a copy agrees in every part of the picture where the original has fine
detail, two fogs that share a ridge only along it) and either an all but perfect fit
(`is_exact`) or the global embedding's lead (factcheck.core.matcher.dense_confirms). A refused
alignment whose detail agrees in all but a small part of the picture fits an edited copy
(`edit_fits`): a near miss for the reviewer, not a match. Where the rest of the picture, scored
again without the part whose colours differ, is exact in every cell (`exact_but_edited`), it
confirms as an exact alignment does, if configured to (`edited_confirms`, off by default).
Where local features matched in one part of the picture only (a text card's words), the
alignment starts from their fit as well (`anchor`), which finds crops off centre; it confirms
as any other alignment does. Candidates further down the likeness order are checked on the exact
bar alone (`max_exact_only`). A reference without fine detail that a copy keeps (a smooth
gradient) is judged by the whole picture's correlation and colours instead, and confirms only
with the embedding's lead (`smooth_*`).
Thresholds come from the `tune` split (docs/benchmarks.md): copies above, the unrelated and
near-duplicate candidates below.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from factcheck.core.features import mirror_matrix, resize_matrix, scaled_size


@dataclass(frozen=True)
class DenseConfig:
    enabled: bool = True
    # Whether an accepted dense alignment verifies a match on its own. Off (the default), it does
    # only for a candidate the global embedding singles out (its similarity leads the query's
    # `margin_rank`-th most similar reference by the embedder's dense_confirm_margin), else the
    # candidate is a near miss for a reviewer to confirm. Measured on the hard tier's test split
    # against 10,000 references, 48 of 167 unrelated fog pictures aligned with some other fog
    # this well (the thumbnails of two smooth fields of one kind are alike to every score here):
    # dense alignment alone cannot tell them apart (docs/benchmarks.md).
    confirms: bool = False
    # 3: the 4th most similar reference, so up to three versions of one picture (an original,
    # its near-identical twin, a sibling of the design) do not cancel each other's lead.
    margin_rank: int = 3
    thumbnail_size: int = 160  # longer side of both thumbnails
    coarse_size: int = 64  # every start hypothesis is fitted at this size first
    refine: int = 4  # most promising hypotheses refined at thumbnail_size
    blur_sigma: float = 1.2
    detail_sigmas: tuple[float, float] = (1.0, 3.0)  # difference of Gaussians
    ecc_iterations: int = 60
    ecc_epsilon: float = 1e-5
    # Query area covered by the reference under each start hypothesis (1.0: the reference
    # fills the query; smaller: the query is a centred crop of it, so the reference overhangs).
    crop_hypotheses: tuple[float, ...] = (1.0, 0.85, 0.72)
    min_overlap: float = 0.45  # share of the query thumbnail the aligned reference covers
    min_correlation: float = 0.90
    min_detail: float = 0.35
    sure_detail: float = 0.9  # an accepted fit this detailed ends the search
    max_colour: float = 9.0  # mean Lab distance
    max_scale_ratio: float = 1.6  # anisotropy of the fitted affine part
    # Fine detail must agree across the picture, not only on the whole: `detail` is scored in
    # each cell of a detail_tiles x detail_tiles grid too, and an alignment confirms a match only
    # when the lower quartile of those cells (DenseVerification.detail_floor) reaches
    # `min_detail_floor`. Two fogs of one kind share a ridge or a horizon that dominates the
    # whole-picture score, while the cells of cloud or haze between disagree.
    detail_tiles: int = 3
    min_detail_floor: float = 0.3
    # A cell where the reference has no fine detail (a flat fill of an illustration or a text
    # card, the smooth part of a gradient: band-pass standard deviation under this many grey
    # levels in its thumbnail) cannot show that the query keeps the reference's detail: it is
    # left out of the cells (the query's JPEG noise there is no detail either). A cell whose
    # detail the query lost still counts. A copy that keeps fine detail in fewer than
    # `min_detail_cells` cells is not confirmed by its detail.
    flat_detail: float = 0.08
    min_detail_cells: int = 3
    # A reference whose fine detail stays under `smooth_detail` grey levels (band-pass standard
    # deviation in its thumbnail) in every cell, a smooth gradient, has none that a copy keeps:
    # 8-bit rounding and JPEG noise are larger, and a copy's detail scores about 0.1 against it.
    # Of 300 pictures of each kind (seeds of neither split; `dense_unrelated.py --census`), 46 %
    # of gradients are smooth, 0.7 % of abstract art and no fog, illustration or text card
    # (their least detailed: 0.82, 0.75, 2.2 grey levels). A smooth reference's alignment is
    # fitted and chosen by the whole-picture correlation along its main colour axis (two colours
    # of one lightness have no luminance to align by), and accepted when that correlation and
    # the colours agree all but perfectly (`smooth_min_correlation`, `smooth_max_colour`). Such
    # an alignment is never exact: it confirms a match only with the global embedding's lead
    # (another smooth gradient of the same colours aligns as well). Chosen on the hard tier's
    # tune split and on gradients of neither split (docs/benchmarks.md).
    smooth_detail: float = 0.5
    smooth_min_correlation: float = 0.995
    smooth_max_colour: float = 6.0
    # An accepted alignment this exact (fine detail everywhere and colours agree all but
    # perfectly) confirms a match without the embedding's lead: what a resized or recompressed
    # copy of a smooth picture keeps and another picture of its kind does not. Chosen on the
    # hard tier's tune split, checked against unrelated pictures of each low-texture kind
    # (scripts/dense_unrelated.py; docs/benchmarks.md).
    exact_detail: float = 0.98
    exact_colour: float = 5.0
    exact_floor: float = 0.6
    # An edited copy: on a smooth picture a splice, a recolour or a caption outweighs the few grey
    # levels and colours around it, so the whole-picture correlation or colour distance refuses
    # it, while its fine detail still agrees everywhere but in the edited part. An alignment
    # whose correlation and colour reach only these looser bounds fits an edited copy
    # (`edit_fits`) when fine detail shows in at least `edit_min_cells` cells and agrees in three
    # in four of them (the detail floor) at `edit_min_floor`. Such a fit is shown to the reviewer
    # as a near miss that says so; it confirms nothing, even with the embedding's lead: another
    # text card of the same layout with other words fits one too (its row of text is the "edit"),
    # and with the lead one was confirmed on the hard tier's test split. Chosen on the tune split
    # (docs/benchmarks.md).
    edit_min_cells: int = 5
    edit_min_floor: float = 0.65
    edit_min_correlation: float = 0.6
    edit_max_colour: float = 15.0
    # An edited copy is exact but for its edit (`exact_but_edited`): where the aligned pair's
    # colours differ by more than `edit_residual` Lab units (blurred thumbnails, lightness matched
    # by a linear fit, specks opened away, the rest closed and widened by `edit_margin` pixels,
    # about the band-pass's reach) covers at most `edit_max_share` of the overlap and at most
    # 1 - `edit_min_kept_detail` of the original's fine detail (band-pass energy); and the rest,
    # scored again without it (DenseVerification.outside_edit), is exact, with fine detail in
    # `edit_min_cells` cells and agreeing in every one of them (`edit_min_cell_detail`). That
    # confirms a match as an edited copy on its own, as an exact alignment does, where a
    # deployment turns `edited_confirms` on. Off (the default): on the hard tier's test split
    # (10,000 references) it confirmed one unrelated text card as an edited copy of another,
    # which no stress pair had done; until a bound refuses that, such a candidate is a near miss
    # (docs/benchmarks.md, eighth session). What each bound refuses (dense_unrelated.py
    # --siblings): another fog differs everywhere; an illustration's sibling (same palette,
    # shapes elsewhere) shares its horizon, and the shapes, most of its detail, differ; another
    # card of one size and colour with a thin frame shares the frame exactly while its other
    # words hardly differ in blurred colour, and the cell of the words still disagrees. Chosen on
    # the hard tier's tune split.
    edited_confirms: bool = False
    edit_residual: float = 10.0
    edit_margin: int = 5
    edit_max_share: float = 0.35
    edit_min_kept_detail: float = 0.6
    edit_min_cell_detail: float = 0.95
    max_candidates: int = 3  # candidates per query given a dense check
    # Candidates after those, in likeness order, given a dense check where none of them
    # confirmed: only an exact alignment (is_exact) confirms them.
    max_exact_only: int = 3
    # Candidates per query whose local features matched in one small area only (a text card's
    # words: verify.CONCENTRATED) given an alignment anchored on that fit, whatever their rank.
    max_anchored: int = 2


@dataclass
class DenseVerification:
    accepted: bool
    transform: np.ndarray | None = None  # 3x3 reference -> query, full-resolution pixels
    mirrored: bool = False
    correlation: float = 0.0
    detail: float = 0.0
    colour: float = 0.0
    overlap: float = 0.0
    tile_details: tuple[float, ...] = ()  # `detail` per grid cell (DenseConfig.detail_tiles)
    reason: str = ""
    smooth: bool = False  # the reference has no fine detail a copy keeps (DenseConfig.smooth_*)
    # The same alignment scored without the part where the pair's colours differ (an edit), and
    # that part's share of the overlap; None when nothing differs, or more than an edit would
    # (DenseConfig.edit_max_share, edit_min_kept_detail), or the alignment is exact already, or
    # the rule is off (DenseConfig.edited_confirms: nothing would read them).
    outside_edit: DenseVerification | None = None
    edit_share: float = 0.0

    @property
    def detail_floor(self) -> float:
        """The lower quartile of the per-cell detail: how well the worst-aligned quarter of the
        picture agrees (0 without cells)."""
        return float(np.percentile(self.tile_details, 25)) if self.tile_details else 0.0

    @property
    def score(self) -> float:
        """In [0, 1]: how far inside the acceptance region, for ranking and similarity: the fine
        detail's agreement, or for a smooth reference the whole picture's correlation."""
        return float(max(0.0, min(1.0, self.correlation if self.smooth else self.detail)))

    def rank(self) -> tuple[float, float]:
        """Better alignments of one pair sort higher: by fine detail, then correlation; for a
        smooth reference (no detail but JPEG noise) by correlation, then detail."""
        if self.smooth:
            return self.correlation, self.detail
        return self.detail, self.correlation


def _thumbnail(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The picture shrunk to `size` on its longer side, and the 3x3 map from its pixel centres
    to the thumbnail's (factcheck.core.features.resize_matrix)."""
    height, width = image.shape[:2]
    shape = scaled_size(image.shape, size / max(height, width), minimum=8)
    small = cv2.resize(image, shape, interpolation=cv2.INTER_AREA)
    return small.astype(np.float32), resize_matrix((width, height), shape)


def _grey(image: np.ndarray, sigma: float, axis: np.ndarray | None = None) -> np.ndarray:
    """The picture blurred, as luminance, or projected on the RGB direction `axis`."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if axis is None else image @ axis
    return cv2.GaussianBlur(grey, (0, 0), sigma)


def _colour_axis(reference_small: np.ndarray) -> np.ndarray:
    """The RGB direction along which a picture varies most (its first principal component): a
    smooth gradient's shading, where the luminance may hardly vary (two colours of about one
    lightness), and aligning by luminance would align JPEG noise."""
    _, vectors = np.linalg.eigh(np.cov(reference_small.reshape(-1, 3), rowvar=False))
    return np.ascontiguousarray(vectors[:, -1], np.float32)


def _correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    a, b = a[mask], b[mask]
    if a.size < 16:
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 1e-9 else 0.0


def _starts(
    query_shape: tuple[int, ...], reference_shape: tuple[int, ...], crops: tuple[float, ...]
) -> list[np.ndarray]:
    """Affine 2x3 maps query thumbnail -> reference thumbnail (ECC's convention)."""
    query_h, query_w = query_shape
    ref_h, ref_w = reference_shape
    starts = [np.array([[ref_w / query_w, 0, 0], [0, ref_h / query_h, 0]], np.float32)]
    for crop in crops:
        # Uniform scale: the query shows `crop` of the reference's extent along its tighter side.
        scale = crop * min(ref_w / query_w, ref_h / query_h)
        offset_x = (ref_w - scale * query_w) / 2
        offset_y = (ref_h - scale * query_h) / 2
        starts.append(np.array([[scale, 0, offset_x], [0, scale, offset_y]], np.float32))
    return starts


def _ecc(
    query: np.ndarray, reference: np.ndarray, start: np.ndarray, config: DenseConfig
) -> np.ndarray | None:
    criteria = (
        cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT,
        config.ecc_iterations,
        config.ecc_epsilon,
    )
    warp = start.copy()
    try:
        cv2.findTransformECC(query, reference, warp, cv2.MOTION_AFFINE, criteria, None, 1)  # type: ignore[call-overload]  # the stubs refuse inputMask=None, which OpenCV documents
    except cv2.error:  # did not converge (flat images, a degenerate start)
        return None
    return warp


def _to_reference_to_query(warp: np.ndarray) -> np.ndarray:
    full = np.vstack([warp.astype(np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)


def _plausible(transform: np.ndarray, config: DenseConfig) -> bool:
    affine = transform[:2, :2]
    if not np.all(np.isfinite(transform)) or np.linalg.det(affine) <= 0:
        return False
    singular = np.linalg.svd(affine, compute_uv=False)
    return float(singular[0]) / max(float(singular[1]), 1e-9) <= config.max_scale_ratio


def _score(
    query_small: np.ndarray,
    reference_small: np.ndarray,
    transform_small: np.ndarray,
    config: DenseConfig,
    axis: np.ndarray | None = None,
) -> tuple[float, float, float, float, tuple[float, ...]]:
    """(correlation, detail, colour, overlap, tile details) of the reference warped onto the
    query; the correlation of their luminance, or of their projection on `axis`."""
    return _score_warped(
        query_small, *_warp(query_small, reference_small, transform_small), config, axis
    )


def _score_warped(
    query_small: np.ndarray,
    warped: np.ndarray,
    valid: np.ndarray,
    config: DenseConfig,
    axis: np.ndarray | None = None,
) -> tuple[float, float, float, float, tuple[float, ...]]:
    """_score's figures of a reference already warped onto the query (`_warp`), compared where
    `valid` (bool) is set."""
    overlap = float(valid.mean())
    if overlap <= 0:
        return 0.0, 0.0, 255.0, 0.0, ()
    correlation = _correlation(
        _grey(query_small, config.blur_sigma, axis), _grey(warped, config.blur_sigma, axis), valid
    )
    fine, coarse = config.detail_sigmas
    query_band = _band_pass(query_small, fine, coarse)
    warped_band = _band_pass(warped, fine, coarse)
    detail = _correlation(query_band, warped_band, valid)
    tiles = _tile_correlations(query_band, warped_band, valid, config)
    query_lab = cv2.cvtColor(_unit(query_small), cv2.COLOR_RGB2LAB)[valid]
    warped_lab = cv2.cvtColor(_unit(warped), cv2.COLOR_RGB2LAB)[valid]
    warped_lab[:, 0] += query_lab[:, 0].mean() - warped_lab[:, 0].mean()
    colour = float(np.linalg.norm(query_lab - warped_lab, axis=1).mean())
    return correlation, detail, colour, overlap, tiles


def _warp(
    query_small: np.ndarray, reference_small: np.ndarray, transform_small: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The reference thumbnail warped onto the query's, and where it lands (bool; its edge, which
    interpolation smears, left out)."""
    height, width = query_small.shape[:2]
    warped = cv2.warpAffine(
        reference_small, transform_small[:2], (width, height), flags=cv2.INTER_LINEAR
    )
    valid_pixels = cv2.warpAffine(
        np.ones(reference_small.shape[:2], np.uint8), transform_small[:2], (width, height)
    )
    return warped, cv2.erode(valid_pixels, np.ones((3, 3), np.uint8)) > 0


def _edit_region(
    query_small: np.ndarray, warped: np.ndarray, valid: np.ndarray, config: DenseConfig
) -> tuple[np.ndarray, float]:
    """Where the query and the reference warped onto it (`_warp`) differ in colour
    (DenseConfig.edit_residual, edit_margin), as a bool mask of the query thumbnail, and its
    share of the overlap."""
    if valid.sum() < 16:
        return valid, 1.0
    query_lab, warped_lab = (
        cv2.cvtColor(_unit(cv2.GaussianBlur(image, (0, 0), config.blur_sigma)), cv2.COLOR_RGB2LAB)
        for image in (query_small, warped)
    )
    # Lightness matched by a linear fit (least squares): a copy's brightness and contrast may
    # change. Without lightness to fit on, only its mean.
    reference_l, query_l = warped_lab[..., 0][valid], query_lab[..., 0][valid]
    variance = float(reference_l.var())
    gain = (
        float(np.cov(reference_l, query_l, bias=True)[0, 1]) / variance if variance > 1e-3 else 1.0
    )
    offset = float(query_l.mean()) - gain * float(reference_l.mean())
    warped_lab[..., 0] = gain * warped_lab[..., 0] + offset
    differs = (np.linalg.norm(query_lab - warped_lab, axis=2) > config.edit_residual) & valid
    square = np.ones((3, 3), np.uint8)
    opened = cv2.morphologyEx(differs.astype(np.uint8), cv2.MORPH_OPEN, square)
    closed = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    size = 2 * config.edit_margin + 1
    region = cv2.dilate(closed, np.ones((size, size), np.uint8)) > 0
    return region, float((region & valid).sum() / valid.sum())


def _band_pass(image: np.ndarray, fine: float, coarse: float) -> np.ndarray:
    """Difference of Gaussians of the grey image, with the picture continued past its frame by
    point reflection (2 * edge - mirror image): a smooth ramp then goes on as itself and has no
    band-pass response at the frame. With the usual mirror reflection, a ramp folds back at the
    frame, and any two smooth pictures whose brightness runs the same way (two dusk skies)
    agreed in the frame's band-pass as if it were shared detail."""
    pad = int(np.ceil(4 * coarse))
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    padded = cv2.GaussianBlur(np.pad(grey, pad, mode="reflect", reflect_type="odd"), (0, 0), 0.5)
    band = cv2.GaussianBlur(padded, (0, 0), fine) - cv2.GaussianBlur(padded, (0, 0), coarse)
    return band[pad:-pad, pad:-pad]


def _tile_correlations(
    query_band: np.ndarray, warped_band: np.ndarray, valid: np.ndarray, config: DenseConfig
) -> tuple[float, ...]:
    """The band-pass correlation in each cell of a grid x grid split of the query that the
    reference mostly covers and has fine detail in (DenseConfig.flat_detail): where the
    reference's fine detail reappears, not just on the whole."""
    cells = []
    for rows, columns in _grid(valid.shape, config.detail_tiles):
        inside = valid[rows, columns]
        if inside.mean() < 0.5:
            continue
        query_cell, warped_cell = query_band[rows, columns], warped_band[rows, columns]
        if warped_cell[inside].std() >= config.flat_detail:
            cells.append(_correlation(query_cell, warped_cell, inside))
    return tuple(cells)


def _grid(shape: tuple[int, ...], grid: int) -> list[tuple[slice, slice]]:
    """(rows, columns) of each cell of a grid x grid split of a picture of `shape`."""
    height, width = shape[:2]
    return [
        (
            slice(row * height // grid, (row + 1) * height // grid),
            slice(column * width // grid, (column + 1) * width // grid),
        )
        for row in range(grid)
        for column in range(grid)
    ]


def detail_level(image: np.ndarray, config: DenseConfig) -> float:
    """The largest band-pass standard deviation (grey levels) over the grid cells of the
    picture's thumbnail: under DenseConfig.smooth_detail it has no fine detail a copy keeps."""
    return _detail_level(_thumbnail(image, config.thumbnail_size)[0], config)


def _detail_level(small: np.ndarray, config: DenseConfig) -> float:
    band = _band_pass(small, *config.detail_sigmas)
    cells = _grid(band.shape, config.detail_tiles)
    return max(float(band[rows, columns].std()) for rows, columns in cells)


def _unit(image: np.ndarray) -> npt.NDArray[np.floating]:
    """A float32 0-255 image scaled to 0-1 (float32, as cvtColor takes it)."""
    return np.asarray(image, np.float32) / np.float32(255)


def _coarse_to_fine(warp: np.ndarray, factor: float) -> np.ndarray:
    """An affine query->reference map between thumbnails, for thumbnails `factor` times larger."""
    scaled = warp.copy()
    scaled[:, 2] *= factor
    return scaled


def _aligned_hypotheses(
    query_small: np.ndarray,
    reference_small: np.ndarray,
    config: DenseConfig,
    axis: np.ndarray | None = None,
) -> list[tuple[bool, np.ndarray]]:
    """(mirrored, warp at thumbnail size) to refine, most promising first: the whole
    reference filling the query, as posted and mirrored (most reposts; on a smooth gradient a
    coarse fit can slide along the iso-lines, so these start from the hypothesis itself), then
    every start as fitted on coarse thumbnails, by correlation, then those ECC could not fit.
    `axis`: as _grey's."""
    factor = config.coarse_size / config.thumbnail_size
    sigma = max(0.5, config.blur_sigma * factor)
    query_coarse = _grey(cv2.resize(query_small, None, fx=factor, fy=factor), sigma, axis)
    fits, unfitted, whole = [], [], []
    for mirrored in (False, True):
        reference_view = reference_small[:, ::-1] if mirrored else reference_small
        reference_coarse = _grey(
            cv2.resize(np.ascontiguousarray(reference_view), None, fx=factor, fy=factor),
            sigma,
            axis,
        )
        starts = _starts(query_coarse.shape, reference_coarse.shape, config.crop_hypotheses)
        whole.append((mirrored, _coarse_to_fine(starts[0], 1 / factor)))
        for start in starts[1:]:
            warp = _ecc(query_coarse, reference_coarse, start, config)
            if warp is None or not _plausible(_to_reference_to_query(warp), config):
                unfitted.append((mirrored, _coarse_to_fine(start, 1 / factor)))
                continue
            warped = cv2.warpAffine(
                reference_coarse,
                warp,
                query_coarse.shape[::-1],
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            )
            valid = cv2.warpAffine(
                np.ones(reference_coarse.shape, np.uint8),
                warp,
                query_coarse.shape[::-1],
                flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            )
            fits.append((_correlation(query_coarse, warped, valid > 0), mirrored, warp))
    fits.sort(key=lambda fit: -fit[0])
    fitted = [(mirrored, _coarse_to_fine(warp, 1 / factor)) for _, mirrored, warp in fits]
    return whole + fitted + unfitted


def _anchored_hypothesis(
    anchor: np.ndarray, query_to_small: np.ndarray, to_thumb: np.ndarray, reference_width: int
) -> list[tuple[bool, np.ndarray]]:
    """The one start hypothesis of an anchored alignment: `anchor` (reference -> query, full
    resolution, a mirror included when its determinant is negative) between the thumbnails, as
    (mirrored, query thumb -> reference thumb warp); none when it is degenerate."""
    small = query_to_small @ anchor @ np.linalg.inv(to_thumb)
    if not np.all(np.isfinite(small)) or abs(small[2, 2]) < 1e-12:
        return []
    small = small / small[2, 2]
    mirrored = bool(np.linalg.det(small[:2, :2]) < 0)
    if mirrored:  # from the mirrored reference thumbnail instead (mirror_matrix is its own inverse)
        small = small @ mirror_matrix(reference_width)
    try:
        warp = np.linalg.inv(small)
    except np.linalg.LinAlgError:
        return []
    return [(mirrored, (warp[:2] / warp[2, 2]).astype(np.float32))]


def dense_verify(
    query: np.ndarray,
    reference: np.ndarray,
    config: DenseConfig | None = None,
    anchor: np.ndarray | None = None,
) -> DenseVerification:
    """Align `reference` onto `query` (both RGB uint8) and decide whether it is its original.
    `anchor`: a reference -> query transform at full resolution (local features' fit), tried
    before the generic start hypotheses: a crop off centre that none of them is near. With an
    anchor, only an exact fit ends the search: a few words' points and the whole picture can
    each lead to a sure fit short of the exact one the other finds."""
    config = config or DenseConfig()
    query_small, query_to_small = _thumbnail(query, config.thumbnail_size)
    reference_small, to_thumb = _thumbnail(reference, config.thumbnail_size)
    smooth = _detail_level(reference_small, config) < config.smooth_detail
    # A smooth reference is aligned and correlated along its own colour axis (_colour_axis).
    axis = _colour_axis(reference_small) if smooth else None
    query_grey = _grey(query_small, config.blur_sigma, axis)
    best: DenseVerification | None = None
    hypotheses = _aligned_hypotheses(query_small, reference_small, config, axis)[: config.refine]
    if anchor is not None:
        width = reference_small.shape[1]
        hypotheses = _anchored_hypothesis(anchor, query_to_small, to_thumb, width) + hypotheses
    for mirrored, start in hypotheses:
        reference_view = np.ascontiguousarray(
            reference_small[:, ::-1] if mirrored else reference_small
        )
        reference_grey = _grey(reference_view, config.blur_sigma, axis)
        warp = _ecc(query_grey, reference_grey, start, config)
        # ECC can wander off on smooth pictures (slide along a gradient's iso-lines, or drift
        # from an exact start to a worse fit: its steps are ill-conditioned there), so the
        # start is scored too: exact for a resized copy.
        for fit in (warp, start):
            if fit is None:
                continue
            small_transform = _to_reference_to_query(fit)  # (mirrored) ref thumb -> query thumb
            if not _plausible(small_transform, config):
                continue
            correlation, detail, colour, overlap, tiles = _score(
                query_small, reference_view, small_transform, config, axis
            )
            candidate = DenseVerification(
                False,
                small_transform,
                mirrored,
                correlation,
                detail,
                colour,
                overlap,
                tiles,
                smooth=smooth,
            )
            # Fine detail tells the right alignment from a plausible wrong one (a symmetric
            # layout fits mirrored and not); stop early only once it is unmistakable: on the
            # whole and across the picture (a mirrored dusk scene fits unmirrored along its
            # horizon, and its water disagrees).
            if best is None or candidate.rank() > best.rank():
                best = candidate
        if best is not None and _ends_search(best, config, exact=anchor is not None):
            break
    if best is None:
        return DenseVerification(False, reason="dense alignment did not converge")
    if config.edited_confirms and not smooth and not _exact_fit(best, config):
        _score_outside_edit(best, query_small, reference_small, config)
    # Full resolution: reference -> reference thumb (-> its mirror) -> query thumb -> query, in
    # pixel centres throughout (a thumbnail pixel is 6 of a 1024-px picture's).
    if best.mirrored:
        to_thumb = mirror_matrix(reference_small.shape[1]) @ to_thumb
    best.transform = np.linalg.inv(query_to_small) @ best.transform @ to_thumb
    best.reason = _problem(best, config)
    best.accepted = not best.reason
    return best


def _score_outside_edit(
    result: DenseVerification,
    query_small: np.ndarray,
    reference_small: np.ndarray,
    config: DenseConfig,
) -> None:
    """Score `result`'s alignment (thumbnails, not yet full resolution) again without the part
    that differs (DenseConfig.edit_*), when that part is there and small enough."""
    assert result.transform is not None
    view = np.ascontiguousarray(reference_small[:, ::-1] if result.mirrored else reference_small)
    warped, valid = _warp(query_small, view, result.transform)
    region, share = _edit_region(query_small, warped, valid, config)
    if not 0 < share <= config.edit_max_share:
        return
    # The reference's own detail, most of which an edit leaves alone: another picture that
    # shares only a horizon or a frame with it differs wherever the rest of its detail is.
    energy = _band_pass(warped, *config.detail_sigmas) ** 2
    kept = float(energy[valid & ~region].sum() / max(float(energy[valid].sum()), 1e-9))
    if kept < config.edit_min_kept_detail:
        return
    correlation, detail, colour, overlap, tiles = _score_warped(
        query_small, warped, valid & ~region, config
    )
    result.outside_edit = DenseVerification(
        False, None, result.mirrored, correlation, detail, colour, overlap, tiles
    )
    result.edit_share = share


def _ends_search(result: DenseVerification, config: DenseConfig, exact: bool) -> bool:
    """A fit that needs no other start hypothesis tried: sure (DenseConfig.sure_detail), or
    with `exact` exact, with nothing refusing it and its detail agreeing across the picture."""
    good_enough = _exact_fit(result, config) if exact else result.detail >= config.sure_detail
    return good_enough and not _problem(result, config) and _detail_agrees(result, config)


def _exact_fit(result: DenseVerification, config: DenseConfig) -> bool:
    """Fine detail everywhere and colours agree all but perfectly (DenseConfig.exact_*)."""
    return (
        result.detail >= config.exact_detail
        and result.colour <= config.exact_colour
        and result.detail_floor >= config.exact_floor
    )


def _detail_agrees(result: DenseVerification, config: DenseConfig) -> bool:
    """Fine detail agrees across the picture (DenseConfig.min_detail_floor), in enough cells."""
    return (
        len(result.tile_details) >= config.min_detail_cells
        and result.detail_floor >= config.min_detail_floor
    )


def confirmable(result: DenseVerification, config: DenseConfig) -> bool:
    """An accepted alignment whose fine detail agrees across the picture, or of a smooth
    reference, which has none to agree on (DenseConfig)."""
    return result.accepted and (result.smooth or _detail_agrees(result, config))


def is_exact(result: DenseVerification, config: DenseConfig) -> bool:
    """An accepted alignment exact enough to confirm a match on its own (DenseConfig)."""
    return confirmable(result, config) and not result.smooth and _exact_fit(result, config)


def exact_but_edited(result: DenseVerification, config: DenseConfig) -> bool:
    """An alignment, accepted or not, exact everywhere but in one part that differs, with fine
    detail in enough cells to tell (DenseConfig.edit_residual ..): an edited copy, confirmed as
    an exact alignment is (DenseConfig)."""
    outside = result.outside_edit
    return (
        outside is not None
        and result.overlap >= config.min_overlap
        and len(outside.tile_details) >= config.edit_min_cells
        and min(outside.tile_details) >= config.edit_min_cell_detail
        and _exact_fit(outside, config)
    )


def edit_fits(result: DenseVerification, config: DenseConfig) -> bool:
    """An alignment, accepted or not, whose fine detail agrees in all but a quarter of a
    picture detailed enough to tell (DenseConfig.edit_min_cells, edit_min_floor) while its
    whole-picture scores stay within an edit's reach: an edited copy's fit, or another picture
    of the same layout's (DenseConfig)."""
    return (
        result.overlap >= config.min_overlap
        and result.detail >= config.min_detail
        and result.correlation >= config.edit_min_correlation
        and result.colour <= config.edit_max_colour
        and len(result.tile_details) >= config.edit_min_cells
        and result.detail_floor >= config.edit_min_floor
    )


def _problem(result: DenseVerification, config: DenseConfig) -> str:
    """Empty when the aligned pair passes every test, else the first one it fails."""
    if result.overlap < config.min_overlap:
        return "dense overlap too small"
    if result.smooth:
        if result.correlation < config.smooth_min_correlation:
            return "dense alignment correlates poorly"
        return "colours differ" if result.colour > config.smooth_max_colour else ""
    if result.correlation < config.min_correlation:
        return "dense alignment correlates poorly"
    if result.detail < config.min_detail:
        return "fine detail differs"
    if result.colour > config.max_colour:
        return "colours differ"
    return ""
