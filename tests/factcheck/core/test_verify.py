import cv2
import numpy as np

from factcheck.core.features import FeatureConfig, Features, extract_features
from factcheck.core.verify import (
    VerifyConfig,
    keystone,
    ratio_matches,
    transform_problem,
    verify,
)
from factcheck.evaluation.evalsources import generated_image

CONFIG = FeatureConfig(working_size=640, max_keypoints=1000)


def _corner_error(transform: np.ndarray, expected: np.ndarray, shape) -> float:
    h, w = shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32).reshape(-1, 1, 2)
    got = cv2.perspectiveTransform(corners, transform)
    want = cv2.perspectiveTransform(corners, expected)
    return float(np.abs(got - want).max())


def test_features_roundtrip_bytes_and_full_resolution_coordinates(astronaut):
    large = cv2.resize(astronaut, (1400, 1400))
    features = extract_features(large, CONFIG)
    assert 0 < len(features) <= CONFIG.max_keypoints
    assert features.points[:, 0].max() > 1000  # mapped back from the 640-px working copy
    restored = Features.from_bytes(features.to_bytes())
    assert restored.image_size == (1400, 1400)
    assert np.allclose(restored.points, features.points)
    assert np.allclose(restored.descriptors, features.descriptors, atol=1e-3)


def test_accepts_transformed_copy_with_correct_homography(astronaut, recompress_resize):
    expected = np.array([[0.8, 0.06, 25], [-0.06, 0.8, 40], [0, 0, 1]])
    query = cv2.warpPerspective(astronaut, expected, (480, 470))
    result = verify(extract_features(query, CONFIG), extract_features(astronaut, CONFIG))
    assert result.accepted, result.reason
    assert result.inliers >= 50 and result.spread > 0.3
    assert _corner_error(result.transform, expected, astronaut.shape) < 3.0


def test_accepts_crop_of_larger_original(astronaut):
    crop = astronaut[120:380, 150:450]
    result = verify(extract_features(crop, CONFIG), extract_features(astronaut, CONFIG))
    assert result.accepted, result.reason
    shift = np.array([[1, 0, -150], [0, 1, -120], [0, 0, 1]], float)
    assert _corner_error(result.transform, shift, astronaut.shape) < 3.0


def test_rejects_unrelated_image(astronaut, coffee, scene):
    reference = extract_features(astronaut, CONFIG)
    for other in (coffee, scene):
        result = verify(extract_features(other, CONFIG), reference)
        assert not result.accepted


def test_rejects_concentrated_inliers(astronaut):
    """Matches only in a small shared corner (e.g. a logo) must not count as the same photo."""
    query = np.full_like(astronaut, 127)
    query[:80, :80] = astronaut[:80, :80]
    config = VerifyConfig(min_inliers=5, min_inlier_ratio=0.0, min_overlap_fraction=0.0)
    result = verify(extract_features(query, CONFIG), extract_features(astronaut, CONFIG), config)
    assert not result.accepted


def test_transform_sanity_checks():
    config = VerifyConfig()
    assert transform_problem(np.eye(3), config) == ""
    assert "flips" in transform_problem(np.diag([-1.0, 1.0, 1.0]), config)
    assert "scale" in transform_problem(np.diag([40.0, 40.0, 1.0]), config)
    assert "anisotropic" in transform_problem(np.diag([5.0, 0.5, 1.0]), config)
    assert "degenerate" in transform_problem(np.full((3, 3), np.nan), config)


def _bf_ratio_matches(query: Features, reference: Features, ratio: float) -> list[tuple]:
    """The ratio test as OpenCV's brute-force matcher computes it (the previous implementation)."""
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(query.descriptors, reference.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    return sorted(
        (*query.points[m.queryIdx].tolist(), *reference.points[m.trainIdx].tolist()) for m in good
    )


def test_ratio_matches_equal_opencvs_brute_force_matcher(astronaut, coffee, scene, other_scene):
    reference = extract_features(astronaut, CONFIG)
    edited = astronaut.copy()
    edited[100:220, 200:330] = coffee[:120, :130]
    matched: list[int] = []
    for image in (edited, astronaut[50:450, 80:500], coffee, scene, other_scene):
        query = extract_features(image, CONFIG)
        query_points, reference_points = ratio_matches(query, reference, 0.8)
        found = sorted(
            (*q, *r) for q, r in zip(query_points.tolist(), reference_points.tolist(), strict=True)
        )
        assert found == _bf_ratio_matches(query, reference, 0.8)
        matched.append(len(found))
    assert min(matched[:2]) > 100 and max(matched[2:]) < 20  # copies match, others hardly


def test_a_same_size_copy_verifies_despite_rounding_in_its_identity_homography():
    """A same-size repost maps the original's corners onto the frame's own corners; OpenCV's
    convex intersection of such nearly coincident edges returned a 3 % sliver, so exact copies
    were refused as "overlap too small"."""
    for seed in (3, 4, 5):
        features = extract_features(generated_image(seed=seed, size=(240, 320)))
        result = verify(features, features)
        assert result.accepted, result.reason
        assert 0.99 <= result.overlap_fraction <= 1.01


def test_a_steeply_tilted_homography_is_not_a_copy():
    config = VerifyConfig()
    size = (768, 1024)
    rotated = np.array([[0.9, -0.2, 30.0], [0.2, 0.9, -10.0], [0.0, 0.0, 1.0]])
    assert keystone(rotated, size) == 1.0
    assert transform_problem(rotated, config, size) == ""
    mild = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1e-4, 0.0, 1.0]])
    assert keystone(mild, size) < config.max_keystone
    # The shared frame of two different quote cards aligned like a photo of a screen at an angle.
    tilted = np.array([[1.27, 0.0, -14.0], [0.14, 1.02, -7.3], [2.9e-4, 0.0, 1.0]])
    assert keystone(tilted, size) > config.max_keystone
    assert "tilted" in transform_problem(tilted, config, size)
    assert transform_problem(tilted, config) == ""  # without a size there is nothing to check
    beyond = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-2e-3, 0.0, 1.0]])  # past the horizon
    assert keystone(beyond, size) == float("inf")
