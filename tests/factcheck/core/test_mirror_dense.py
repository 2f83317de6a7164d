"""Mirrored reposts and low-texture pictures (issue 15): SIFT descriptors mirrored without
re-running SIFT, dense alignment where local features find too little, near misses."""

import itertools

import cv2
import faiss
import numpy as np
import pytest

from factcheck.core.dense import (
    DenseConfig,
    _band_pass,
    confirmable,
    dense_verify,
    edit_fits,
    exact_but_edited,
    is_exact,
)
from factcheck.core.features import (
    extract_features,
    mirror_features,
    mirror_matrix,
    resize_matrix,
)
from factcheck.core.matcher import dense_confirms
from factcheck.core.verify import verify
from factcheck.evaluation.evaledits import e_recolour, jpeg
from factcheck.evaluation.evallowtexture import (
    fog_image,
    gradient_image,
    illustration_image,
    text_card_image,
)


def _mirror(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def _repost(image: np.ndarray, keep: float = 0.82, width: int = 520, quality: int = 40):
    """Mirror, centre crop keeping `keep` of each side, downscale to `width`, low JPEG."""
    height, full_width = image.shape[:2]
    top, left = round(height * (1 - keep) / 2), round(full_width * (1 - keep) / 2)
    crop = _mirror(image)[top : height - top, left : full_width - left]
    scale = width / crop.shape[1]
    small = cv2.resize(crop, (width, round(crop.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    return jpeg(small, quality), (top, left, scale)


def test_mirrored_descriptors_equal_sift_on_the_flipped_image(astronaut):
    features = extract_features(astronaut)
    flipped = extract_features(_mirror(astronaut))
    mirrored = mirror_features(features)
    _, nearest = faiss.knn(mirrored.descriptors, flipped.descriptors, 1)
    same_place = np.linalg.norm(flipped.points[nearest[:, 0]] - mirrored.points, axis=1) < 2
    # Without the bin permutation (descriptors as they are) this is near 0.1.
    assert same_place.mean() > 0.8


def test_mirror_matrix_is_an_involution_matching_the_pixel_grid():
    matrix = mirror_matrix(640)
    assert np.allclose(matrix @ matrix, np.eye(3))
    assert np.allclose(matrix @ [0, 5, 1], [639, 5, 1])


def test_mirrored_cropped_repost_verifies_only_mirrored(astronaut):
    query, _ = _repost(astronaut, keep=0.85, width=400, quality=60)
    reference = extract_features(astronaut)
    query_features = extract_features(query)
    assert not verify(query_features, reference).accepted
    flipped = verify(mirror_features(query_features), reference)
    assert flipped.accepted
    # Composed with the mirror, the homography maps the reference into the posted query.
    transform = mirror_matrix(query.shape[1]) @ flipped.transform
    point = transform @ [astronaut.shape[1] / 2, astronaut.shape[0] / 2, 1]
    assert np.allclose(point[:2] / point[2], [query.shape[1] / 2, query.shape[0] / 2], atol=6)
    assert np.linalg.det(transform[:2, :2]) < 0


@pytest.mark.parametrize("make", [fog_image, illustration_image, text_card_image])
def test_dense_alignment_confirms_a_low_texture_repost(make):
    original = make(3)
    query, (top, left, _) = _repost(original)
    result = dense_verify(query, original)
    assert result.accepted, result
    assert result.mirrored
    # The reference's top-right corner lands on the query's top-left (mirror, then crop).
    width = original.shape[1]
    corner = result.transform @ [width - 1 - left, top, 1]
    assert np.allclose(corner[:2] / corner[2], [0, 0], atol=0.04 * query.shape[1])


@pytest.mark.parametrize("make", [fog_image, illustration_image, text_card_image])
def test_dense_alignment_rejects_another_picture_of_the_same_kind(make):
    query, _ = _repost(make(3))
    assert not dense_verify(query, make(4)).accepted


@pytest.mark.parametrize("make", [fog_image, illustration_image, text_card_image])
def test_dense_alignment_scores_a_near_identical_version_below_the_original(make):
    """Same design, other details: either rejected, or (like an edited copy) scored lower."""
    query, _ = _repost(make(3))
    original = dense_verify(query, make(3))
    sibling = dense_verify(query, make(3, sibling=1))
    assert not sibling.accepted or sibling.score < original.score - 0.1


def test_dense_alignment_refuses_when_disabled_thresholds_are_impossible():
    original = fog_image(5)
    strict = DenseConfig(min_detail=1.01)
    result = dense_verify(jpeg(original, 50), original, strict)
    assert not result.accepted and result.reason == "fine detail differs"


def _resized_copy(image: np.ndarray) -> np.ndarray:
    return jpeg(cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), 60)


@pytest.mark.parametrize(
    "original",
    [
        # Flat colour bands: ECC slides along them into a sheared, implausible fit.
        gradient_image(10),
        # Smooth fog: from the exact start, ECC drifted to a worse fit ("fine detail differs").
        fog_image(1),
    ],
    ids=["banded-gradient", "fog"],
)
def test_a_resized_copy_of_a_smooth_picture_aligns_exactly_where_ecc_wanders(original):
    result = dense_verify(_resized_copy(original), original)
    assert result.accepted, result
    assert result.detail > 0.9 and not result.mirrored
    # The fit is the plain resize: the reference's far corner lands on the query's.
    height, width = original.shape[:2]
    corner = result.transform @ [width, height, 1]
    assert np.allclose(corner[:2] / corner[2], [width / 2, height / 2], atol=0.02 * width)


def test_an_exact_alignment_is_what_a_copy_keeps_and_another_picture_of_its_kind_does_not():
    config = DenseConfig()
    copy = dense_verify(_resized_copy(fog_image(3)), fog_image(3), config)
    assert is_exact(copy, config), copy
    for other in (fog_image(4), fog_image(3, sibling=1)):
        assert not is_exact(dense_verify(_resized_copy(fog_image(3)), other, config), config)
    assert not is_exact(copy, DenseConfig(exact_detail=1.01))
    assert not is_exact(copy, DenseConfig(exact_colour=copy.colour - 0.01))


def test_an_alignment_that_agrees_only_in_part_of_the_picture_does_not_confirm():
    """The top third of the fog is another fog's: the whole picture still aligns (its lower part
    dominates), but the cells of the top third disagree, so the alignment confirms nothing."""
    original = fog_image(8)
    height, width = original.shape[:2]
    query = original.copy()
    query[: height // 3] = cv2.resize(fog_image(9), (width, height))[: height // 3]
    config = DenseConfig()
    result = dense_verify(_resized_copy(query), original, config)
    assert result.accepted, result
    assert len(result.tile_details) == config.detail_tiles**2
    assert result.detail_floor < config.min_detail_floor < max(result.tile_details)
    assert not confirmable(result, config) and not is_exact(result, config)
    whole = dense_verify(_resized_copy(original), original, config)
    assert confirmable(whole, config) and whole.detail_floor > 0.8


@pytest.mark.parametrize(
    "original",
    [illustration_image(0), illustration_image(2), text_card_image(0), text_card_image(3)],
    ids=["illustration-0", "illustration-2", "text-card-0", "text-card-3"],
)
def test_the_references_flat_fills_are_no_evidence(original):
    """Where the original has no fine detail (an illustration's flat fills, a text card's smooth
    background), a cell cannot show that the copy keeps it: counted (correlation 0, or of the
    copy's JPEG noise), such cells pulled a plain resized copy's detail floor under 0.2."""
    config = DenseConfig()
    copy = dense_verify(_resized_copy(original), original, config)
    assert len(copy.tile_details) < config.detail_tiles**2
    assert is_exact(copy, config), copy
    counted = dense_verify(_resized_copy(original), original, DenseConfig(flat_detail=0.0))
    assert len(counted.tile_details) == config.detail_tiles**2
    assert not confirmable(counted, config)
    # Too few cells with detail: nothing to confirm a match on.
    assert not confirmable(copy, DenseConfig(min_detail_cells=len(copy.tile_details) + 1))


def test_a_cell_whose_detail_the_query_lost_still_counts():
    """Detail erased from a cell (text removed, a region filled) leaves it flat in the query only:
    it is evidence of a difference, not left out."""
    original = illustration_image(0)
    height, width = original.shape[:2]
    config = DenseConfig()
    copy = dense_verify(_resized_copy(original), original, config)
    # The centre cell, filled a little beyond its edges so that no edge of the fill is inside it.
    rows = slice(height // 3 - height // 20, 2 * height // 3 + height // 20)
    columns = slice(width // 3 - width // 20, 2 * width // 3 + width // 20)
    erased = original.copy()
    erased[rows, columns] = original[height // 2, width // 2]
    result = dense_verify(_resized_copy(erased), original, config)
    assert len(result.tile_details) == len(copy.tile_details)
    assert min(result.tile_details) < 0.1 and min(copy.tile_details) > 0.9


def test_a_smooth_ramp_has_no_fine_detail_at_the_frame():
    """Mirror reflection folds a ramp back at the frame, which the band-pass took for detail
    that every picture brightening the same way shares."""
    ramp = np.linspace(30, 220, 120, dtype=np.float32)[:, None].repeat(160, axis=1)
    picture = np.repeat(ramp[..., None], 3, axis=2)
    band = _band_pass(picture, *DenseConfig().detail_sigmas)
    assert band.shape == ramp.shape
    assert np.abs(band).max() < 0.05


def _halved_mirror(image: np.ndarray) -> np.ndarray:
    """Mirrored, halved, JPEG 40."""
    small = cv2.resize(_mirror(image), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    return jpeg(small, 40)


@pytest.mark.parametrize("query_seed, reference_seed", [(11, 3), (21, 3), (5, 15)])
def test_two_dusk_scenes_do_not_share_detail_through_the_frame(query_seed, reference_seed):
    """Water at dusk: a sky ramp, a horizon, its dimmed reflection. Another such scene, posted
    mirrored, halved and JPEG 40, aligned with these originals with a detail floor over 0.3
    while the frame counted: each confirmable (with the embedding's lead, a false match)."""
    config = DenseConfig()
    original = fog_image(reference_seed)
    other = dense_verify(_halved_mirror(fog_image(query_seed)), original, config)
    assert not confirmable(other, config), other
    copy = dense_verify(_halved_mirror(original), original, config)
    assert confirmable(copy, config), copy


@pytest.mark.parametrize("mirrored", [False, True], ids=["as-posted", "mirrored"])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_the_dense_transform_is_pixel_exact_at_full_resolution(mirrored, scale):
    """The alignment is found on 160-px thumbnails, but the transform it reports is what the edit
    map is drawn under. Mirroring in thumbnail pixels and scaling the result up put a mirrored
    copy 5.4 px (one thumbnail pixel less one full pixel) off its original at 1024 px: thin
    slivers along every edge were reported as edits."""
    # An odd size: its thumbnail's two axes are scaled by slightly different factors.
    original = np.ascontiguousarray(illustration_image(2)[:533, :997])
    height, width = original.shape[:2]
    posted = _mirror(original) if mirrored else original
    size = (round(width * scale), round(height * scale))
    query = jpeg(cv2.resize(posted, size, interpolation=cv2.INTER_AREA), 90)
    result = dense_verify(query, original)
    assert result.accepted and result.mirrored == mirrored, result
    # Pixel centres: x in the original is at (x + 0.5) * scale - 0.5 in its resize.
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]], float)
    expected = corners.copy()
    if mirrored:
        expected[:, 0] = width - 1 - expected[:, 0]
    expected = (expected + 0.5) * scale - 0.5
    mapped = cv2.perspectiveTransform(corners[None], result.transform)[0]
    assert np.abs(mapped - expected).max() < 1.5, mapped - expected


def test_two_text_cards_of_one_layout_are_not_one_picture():
    """The same red card, white frame and two centred lines of white text, other words: at dense
    alignment's thumbnails the words are illegible, the detail agrees across the card and the
    descriptor puts one ahead of the other indexed cards. Only the whole-picture correlation
    refuses the pair; a candidate that let 0.80 through (and took the median colour) confirmed it
    (scripts/dense_unrelated.py, docs/benchmarks.md "Edits on smooth pictures")."""
    query = jpeg(text_card_image(810000017), 70)
    config = DenseConfig()
    result = dense_verify(query, text_card_image(800000533), config)
    assert not result.accepted and result.reason == "dense alignment correlates poorly"
    assert result.correlation > 0.8 and result.detail_floor > config.min_detail_floor
    # Nor is it an edited copy: the frame agrees, the rows of text do not (a quarter of the cells
    # and more), even where the descriptor singles the card out.
    assert not edit_fits(result, config)
    assert not dense_confirms(result, lead=1.0, config=config, margin=0.0)


def test_an_edited_copy_of_a_smooth_picture_is_exact_but_for_its_edit():
    """A recoloured blob on a flat illustration outweighs its few grey levels: the whole-picture
    correlation refuses the alignment, while the fine detail agrees in every cell but the edited
    one. Without the part whose colours differ, the rest is exact: an edited copy, which
    confirms without the embedding's lead, as an exact alignment does, where configured to."""
    picture = illustration_image(820000003)
    edited, _ = e_recolour(picture, np.random.default_rng(820000003), picture)
    config = DenseConfig()
    on = DenseConfig(edited_confirms=True)
    result = dense_verify(jpeg(edited, 70), picture, on)
    assert not result.accepted and not confirmable(result, config), result
    assert 0 < result.edit_share <= config.edit_max_share
    assert exact_but_edited(result, config)
    # It confirms where a deployment turns that on; not by default (DenseConfig.edited_confirms),
    # and then the alignment is not scored a second time at all.
    assert not dense_confirms(result, lead=None, config=config, margin=None)
    assert dense_confirms(result, lead=None, config=on, margin=None)
    assert dense_verify(jpeg(edited, 70), picture, config).outside_edit is None
    # Not when the part that differs is larger than an edit or holds most of the original's
    # detail, nor without enough detail cells.
    for stricter in (
        DenseConfig(edited_confirms=True, edit_max_share=result.edit_share - 0.01),
        DenseConfig(edited_confirms=True, edit_min_kept_detail=1.0),
    ):
        assert not exact_but_edited(dense_verify(jpeg(edited, 70), picture, stricter), stricter)
    assert result.outside_edit is not None
    fewer = DenseConfig(edit_min_cells=len(result.outside_edit.tile_details) + 1)
    assert not exact_but_edited(result, fewer)


def test_an_unedited_copy_is_not_scored_again():
    """An exact alignment has no part to leave out: it is exact, not exact but edited."""
    original = illustration_image(820000004)
    on = DenseConfig(edited_confirms=True)
    result = dense_verify(jpeg(original, 70), original, on)
    assert is_exact(result, on) and result.outside_edit is None


def test_another_text_card_of_one_layout_fits_an_edited_copy_and_is_not_confirmed():
    """Same red card, frame and two centred lines of text, other words (a pair from
    scripts/dense_unrelated.py --details): the rows above and below the text agree, the row of
    text partly, so it fits an edited copy as well as a recoloured illustration does. A lead
    confirmed such a card on the hard tier's test split; an edit fit confirms nothing."""
    config = DenseConfig()
    result = dense_verify(jpeg(text_card_image(810000108), 70), text_card_image(800000995), config)
    assert not result.accepted and edit_fits(result, config), result
    assert not dense_confirms(result, lead=1.0, config=config, margin=0.0)


@pytest.mark.parametrize(
    ("query_seed", "reference_seed"), [(800000003, 800000960), (800000025, 800000025)]
)
def test_another_framed_text_card_is_not_exact_but_for_its_words(query_seed, reference_seed):
    """Two cards of one size and background with a thin frame and other words (pairs from
    scripts/dense_unrelated.py --siblings): the frame agrees exactly and the words hardly differ
    in blurred colour, so the part left out is small and the rest all but exact; only the cell
    of the words still disagrees, and every cell outside an edit must agree."""
    config = on = DenseConfig(edited_confirms=True)
    query = jpeg(text_card_image(query_seed), 70)
    result = dense_verify(query, text_card_image(reference_seed, 1), config)
    assert result.outside_edit is not None and result.outside_edit.detail >= config.exact_detail
    assert min(result.outside_edit.tile_details) < config.edit_min_cell_detail
    assert not exact_but_edited(result, config)
    assert not dense_confirms(result, lead=None, config=on, margin=None)


@pytest.mark.parametrize("mirrored", [False, True], ids=["as-posted", "mirrored"])
def test_an_anchor_aligns_a_crop_off_centre_that_the_start_hypotheses_miss(mirrored):
    """A crop off centre (a quarter off the top and left, a twentieth off the bottom and
    right) of a quote card (a seed of neither split), downscaled: no centred start hypothesis
    is near it, so the alignment fails; started from the crop's own map (what local features
    fit, given as `anchor`) it is exact, mirrored or not, and reports that map."""
    original = text_card_image(960_000_003)
    height, width = original.shape[:2]
    top, left = height // 4, width // 4
    bottom, right = height * 19 // 20, width * 19 // 20
    crop = original[top:bottom, left:right]
    posted = _mirror(crop) if mirrored else crop
    size = (round(posted.shape[1] * 0.6), round(posted.shape[0] * 0.6))
    query = jpeg(cv2.resize(posted, size, interpolation=cv2.INTER_AREA), 85)
    anchor = resize_matrix((crop.shape[1], crop.shape[0]), size)
    if mirrored:
        anchor = anchor @ mirror_matrix(crop.shape[1])
    anchor = anchor @ np.array([[1.0, 0.0, -left], [0.0, 1.0, -top], [0.0, 0.0, 1.0]])
    assert not is_exact(dense_verify(query, original), DenseConfig())
    result = dense_verify(query, original, anchor=anchor)
    assert is_exact(result, DenseConfig()) and result.mirrored == mirrored, result
    corners = np.array([[left, top], [right - 1, bottom - 1]], float)
    mapped = cv2.perspectiveTransform(corners[None], result.transform)[0]
    expected = cv2.perspectiveTransform(corners[None], anchor)[0]
    assert np.abs(mapped - expected).max() < 1.5, mapped - expected


def test_a_sure_fit_from_the_anchor_does_not_cut_off_an_exact_one(monkeypatch):
    """A resized quote card whose anchor (local features' fit from a few words) is half a
    percent too large. ECC is switched off, so each start is scored as it is. The anchor's
    start is sure but not exact, and the whole-picture start is exact. The search must go on
    past the anchor's start to find it (the hard tier's test split lost a card this way)."""
    from factcheck.core import dense

    original = text_card_image(960_000_003)
    height, width = original.shape[:2]
    size = (round(width * 0.6), round(height * 0.6))
    query = jpeg(cv2.resize(original, size, interpolation=cv2.INTER_AREA), 90)
    anchor = np.diag([1.005, 1.005, 1.0]) @ resize_matrix((width, height), size)
    monkeypatch.setattr(dense, "_ecc", lambda *args: None)
    scored: list[float] = []  # the detail of each start, in the order tried
    score = dense._score

    def recording(*args):
        scores = score(*args)
        scored.append(scores[1])
        return scores

    monkeypatch.setattr(dense, "_score", recording)
    result = dense_verify(query, original, anchor=anchor)
    assert DenseConfig().sure_detail <= scored[0] < DenseConfig().exact_detail, scored
    assert is_exact(result, DenseConfig()), result


def test_a_degenerate_anchor_is_skipped():
    """A fit that collapses the picture (local features gone wrong) is not tried: the alignment
    is the one the start hypotheses give, without error."""
    original = fog_image(21)
    query = jpeg(original, 80)
    anchored = dense_verify(query, original, anchor=np.zeros((3, 3)))
    plain = dense_verify(query, original)
    assert anchored.accepted and anchored.detail == plain.detail
    assert np.allclose(anchored.transform, plain.transform)


# Gradients of seeds of neither split: without band-pass detail (under flat_detail), then with
# detail under half a grey level (DenseConfig.smooth_detail), which a copy at JPEG 40 loses.
SMOOTH_GRADIENTS = (960_000_004, 960_000_007, 960_000_008, 960_000_013, 960_000_021)
WEAK_DETAIL_GRADIENTS = (960_000_012, 960_000_035)


@pytest.mark.parametrize("seed", SMOOTH_GRADIENTS[:3] + WEAK_DETAIL_GRADIENTS)
def test_a_smooth_gradients_copy_confirms_by_its_whole_picture_with_the_lead_only(seed):
    """A smooth gradient has no fine detail that a copy keeps, so its copy's band-pass is
    mostly JPEG noise. Mirrored, cropped, downscaled and at JPEG 40, the copy is still aligned the
    right way round (by correlation, not by the noise's detail) and accepted on its
    correlation and colours. It confirms with the embedding's lead only: it is never exact,
    and it does not confirm without the lead."""
    original = gradient_image(seed)
    query, _ = _repost(original)
    config = DenseConfig()
    result = dense_verify(query, original, config)
    assert result.smooth and result.accepted and result.mirrored, result
    assert result.score == pytest.approx(result.correlation)
    assert confirmable(result, config) and not is_exact(result, config)
    assert dense_confirms(result, lead=0.3, config=config, margin=0.14)
    assert not dense_confirms(result, lead=0.1, config=config, margin=0.14)
    assert not dense_confirms(result, lead=0.3, config=config, margin=None)


def test_another_smooth_gradient_is_not_accepted():
    """Each smooth gradient against the next: whatever alignment fits best, the correlation or
    the colours refuse it."""
    config = DenseConfig()
    for query_seed, reference_seed in itertools.pairwise(SMOOTH_GRADIENTS + WEAK_DETAIL_GRADIENTS):
        query = jpeg(gradient_image(query_seed), 70)
        result = dense_verify(query, gradient_image(reference_seed), config)
        assert result.smooth and not result.accepted, (query_seed, result)


def test_fog_and_text_cards_are_not_smooth():
    """Half a grey level of detail is far below what fog or a text card has: they keep the
    fine-detail bar."""
    for picture in (fog_image(21), text_card_image(960_000_003)):
        assert not dense_verify(jpeg(picture, 70), picture).smooth
