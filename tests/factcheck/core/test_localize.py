import cv2
import numpy as np
import pytest

from factcheck.core.features import extract_features, resize_matrix
from factcheck.core.localize import LocalizeConfig, localize_edits, warp_reference
from factcheck.core.regions import classify_region
from factcheck.core.verify import verify


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return float((a & b).sum() / max(1, (a | b).sum()))


def _aligned(query, reference):
    result = verify(extract_features(query), extract_features(reference))
    assert result.accepted
    return result.transform


def test_pasted_patch_is_localised(astronaut, coffee, recompress_resize):
    query = astronaut.copy()
    query[300:420, 60:220] = cv2.resize(coffee, (160, 120))
    truth = np.zeros(astronaut.shape[:2], np.uint8)
    truth[300:420, 60:220] = 255
    query, truth = (
        recompress_resize(query, 0.8, 85),
        cv2.resize(truth, (410, 410), interpolation=cv2.INTER_NEAREST),
    )
    result = localize_edits(query, astronaut, _aligned(query, astronaut))
    assert result.edited and result.edit_mask.shape == query.shape[:2]
    assert set(np.unique(result.edit_mask)) <= {0, 255}
    assert _iou(result.edit_mask, truth) > 0.7
    assert result.regions and result.regions[0]["kind"] == "added"


def test_recompressed_resized_copy_is_not_edited(astronaut, recompress_resize):
    query = recompress_resize(astronaut, 0.6, 55)
    result = localize_edits(query, astronaut, _aligned(query, astronaut))
    assert not result.edited and result.regions == []


def test_border_and_caption_band_are_not_edits(astronaut):
    query = cv2.copyMakeBorder(
        astronaut, 20, 110, 20, 20, cv2.BORDER_CONSTANT, value=(250, 250, 250)
    )
    cv2.putText(query, "Shocking photo", (30, 600), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 0), 3)
    result = localize_edits(query, astronaut, _aligned(query, astronaut))
    assert not result.edited
    assert result.overlap_mask[600, 30] == 0 and result.overlap_mask[300, 300] == 255


def test_text_overlay_region_kind(astronaut):
    query = astronaut.copy()
    cv2.putText(query, "FAKE NEWS", (40, 460), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 0), 5)
    result = localize_edits(query, astronaut, np.eye(3))
    assert result.edited and {r["kind"] for r in result.regions} == {"text"}


def test_recolour_region_kind(coffee):
    query = coffee.copy()
    hsv = cv2.cvtColor(query, cv2.COLOR_RGB2HSV)
    region = hsv[100:250, 150:350]
    region[..., 0] = (region[..., 0].astype(int) + 90) % 180
    region[..., 1] = np.clip(region[..., 1].astype(int) + 80, 0, 255)
    query = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    result = localize_edits(query, coffee, np.eye(3))
    assert result.edited and result.regions[0]["kind"] == "altered"


def test_removed_kind_when_query_is_smoother():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 255, (60, 60)).astype(np.uint8)
    reference = np.repeat(
        cv2.resize(reference, (120, 120), interpolation=cv2.INTER_NEAREST)[..., None], 3, 2
    )
    query = reference.copy()
    query[30:90, 30:90] = 128
    inside = np.ones((60, 60), bool)
    assert classify_region(query[30:90, 30:90], reference[30:90, 30:90], inside) == "removed"


def _caption_band(width: int, height: int = 60) -> np.ndarray:
    band = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(band, "SHOCKING PHOTO", (10, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    return band


def test_caption_band_over_a_cropped_away_part_is_not_an_edit(coffee, recompress_resize):
    """Crop, then a caption band on top: the original's cropped rows fall inside the band."""
    crop = coffee[40:330, 100:520]
    query = recompress_resize(np.vstack([_caption_band(crop.shape[1]), crop]), 1.0, 85)
    transform = _aligned(query, coffee)
    result = localize_edits(query, coffee, transform)
    assert not result.edited, result.regions
    assert result.overlap_mask[:55].max() == 0  # the band is left out of the comparison
    compared = localize_edits(query, coffee, transform, LocalizeConfig(exclude_frames=False))
    assert compared.edited  # what the band exclusion prevents


def test_text_written_onto_a_flat_top_is_still_an_edit(astronaut, recompress_resize):
    original = astronaut.copy()
    original[:80] = (200, 220, 240)  # a flat sky reaching the top edge, like a band
    query = original.copy()
    cv2.putText(query, "FAKE NEWS TODAY", (20, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (20, 20, 20), 3)
    query = recompress_resize(query, 1.0, 90)
    result = localize_edits(query, original, _aligned(query, original))
    assert result.edited and {region["kind"] for region in result.regions} == {"text"}
    assert all(region["bbox"][1] < 80 for region in result.regions)


def _flat_illustration() -> np.ndarray:
    """Flat shapes on a flat ground: few keypoints, so a fitted homography can be a little off."""
    image = np.full((480, 720, 3), (80, 170, 90), np.uint8)
    image[300:] = (130, 60, 70)
    cv2.rectangle(image, (260, 100), (400, 190), (185, 110, 75), -1)
    cv2.fillPoly(
        image,
        [np.array([[450, 300], [540, 170], [600, 260], [700, 125], [720, 300]])],
        (215, 205, 130),
    )
    cv2.ellipse(image, (170, 300), (145, 75), 0, 180, 360, (190, 215, 215), -1)
    return image


def test_a_slightly_off_alignment_is_refined_before_comparing():
    """A copy aligned 3 % off in scale (what 20 keypoints on a flat picture give) shows thin
    slivers along every edge unless the alignment is refined; refined, it is unedited and the
    returned transform is the true one."""
    reference = _flat_illustration()
    query = cv2.resize(reference, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    truth = np.diag([0.7, 0.7, 1.0])
    off = np.array([[0.72, 0.01, -4.0], [0.0, 0.715, -3.0], [0.0, 0.0, 1.0]])
    plain = localize_edits(query, reference, off, LocalizeConfig(refine=False))
    assert plain.edited  # the slivers
    refined = localize_edits(query, reference, off)
    assert not refined.edited and refined.regions == []
    corners = np.array([[[0, 0], [720, 0], [0, 480], [720, 480]]], np.float64)

    def corner_error(transform: np.ndarray) -> float:
        moved = cv2.perspectiveTransform(corners, transform)
        return float(np.abs(moved - cv2.perspectiveTransform(corners, truth)).max())

    assert corner_error(off) > 10 and corner_error(refined.transform) < 2.5


def test_refinement_keeps_a_real_edit(astronaut, coffee):
    """A pasted patch pulls ECC as a misfit does; the edit stays found either way."""
    query = astronaut.copy()
    query[300:420, 60:220] = cv2.resize(coffee, (160, 120))
    result = localize_edits(query, astronaut, np.eye(3))
    truth = np.zeros(astronaut.shape[:2], np.uint8)
    truth[300:420, 60:220] = 255
    assert result.edited and _iou(result.edit_mask, truth) > 0.7
    assert np.allclose(result.transform, np.eye(3), atol=0.02)


@pytest.mark.parametrize("size", [(498, 266), (300, 160), (700, 374)])
def test_a_reference_warped_by_its_resize_map_lands_on_pixel_centres(size):
    """Transforms map pixel centres (SIFT points, dense alignment); warp_reference's pre-shrink
    (under 0.75x) mapped pixel edges, which moved the warped reference by up to
    (1 / scale - 1) / 2 px: on a picture of its own coordinates, every pixel is off by that."""
    height, width = 533, 997
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    coordinates = np.dstack([xs, ys, np.zeros_like(xs)])
    warped, valid = warp_reference(coordinates, resize_matrix((width, height), size), size)
    us, vs = np.meshgrid(np.arange(size[0]), np.arange(size[1]))
    expected_x = (us + 0.5) * width / size[0] - 0.5
    expected_y = (vs + 0.5) * height / size[1] - 0.5
    inside = cv2.erode(valid, np.ones((5, 5), np.uint8)) > 0
    assert np.abs(warped[..., 0] - expected_x)[inside].max() < 0.1
    assert np.abs(warped[..., 1] - expected_y)[inside].max() < 0.1
