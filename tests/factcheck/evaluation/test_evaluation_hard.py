"""The hard evaluation tier (issue 15): repost chains, low-texture generators, near-identical
versions, distractor families, and the per-class report."""

import json
from functools import partial

import cv2
import numpy as np
import pytest

from factcheck.core.features import extract_features
from factcheck.core.fingerprints import pdq_hash
from factcheck.evaluation.evaldistractors import DISTRACTOR_FAMILY_SIZE, hard_distractor
from factcheck.evaluation.evaledits import (
    HARD_CHAINS,
    HARD_CROP_KEEP,
    HARD_DOWNSCALE_WIDTH,
    LOW_JPEG_QUALITY,
    PLAIN_COPY,
    PROBE_SCALE,
    VARIANTS,
    t_crop_keep,
    t_downscale_width,
    t_mirror,
    t_scale,
)
from factcheck.evaluation.evalhard import HARD_CLASSES, generate_hard_cases
from factcheck.evaluation.evalhardsources import DesignSource, measured_member, prepare_groups
from factcheck.evaluation.evallowtexture import LOW_TEXTURE_GENERATORS
from factcheck.evaluation.evalsources import (
    FORBIDDEN_NAME_PARTS,
    Source,
    design_group,
    iter_system_images,
    load_hard_image,
    skimage_sources,
)
from factcheck.evaluation.evaluate import evaluate, format_table


def _marked(shape=(300, 400)) -> tuple[np.ndarray, np.ndarray]:
    """An image whose left-top quadrant is red, and a mask marking exactly that quadrant."""
    image = np.full((*shape, 3), 90, np.uint8)
    mask = np.zeros(shape, np.uint8)
    image[: shape[0] // 2, : shape[1] // 2] = (255, 0, 0)
    mask[: shape[0] // 2, : shape[1] // 2] = 255
    return image, mask


def _red(image: np.ndarray) -> np.ndarray:
    return (image[..., 0] > 200) & (image[..., 1] < 60)


def test_mirror_moves_the_mask_with_the_picture():
    image, mask = _marked()
    mirrored, mirrored_mask = t_mirror(image, mask, np.random.default_rng(0))
    assert np.array_equal(mirrored_mask, mask[:, ::-1])
    assert np.array_equal(_red(mirrored), mirrored_mask > 0)  # the red is where the mask says
    assert mirrored_mask[:, -1].any() and not mirrored_mask[:, 0].any()


@pytest.mark.parametrize("chain", sorted(HARD_CHAINS))
def test_every_chain_keeps_the_mask_on_the_picture_grid(chain):
    image, mask = _marked((600, 800))
    for seed in range(5):
        out, out_mask, quality = HARD_CHAINS[chain](image, mask, np.random.default_rng(seed))
        assert out_mask.shape == out.shape[:2] and set(np.unique(out_mask)) <= {0, 255}
        agreement = (_red(out) == (out_mask > 0)).mean()
        assert agreement > 0.97, (chain, seed, agreement)
        if "mirror" in chain or chain == "probe_chain":
            # the marked quadrant was top-left; mirrored it is top-right
            assert out_mask[:5, -5:].any() and not out_mask[:5, :5].any()
        if chain in ("downscale_jpeg", "probe_chain"):
            assert LOW_JPEG_QUALITY[0] <= quality <= LOW_JPEG_QUALITY[1]
        else:
            assert quality is None


def test_crop_keep_range_boundaries():
    image, mask = _marked((1000, 1000))
    sides = []
    for seed in range(40):
        out, out_mask = t_crop_keep(image, mask, np.random.default_rng(seed))
        sides += [out.shape[0] / 1000, out.shape[1] / 1000]
        assert out_mask.shape == out.shape[:2]
    assert HARD_CROP_KEEP[0] - 0.001 <= min(sides) and max(sides) <= HARD_CROP_KEEP[1]


def test_downscale_width_and_probe_scale_boundaries():
    image, mask = _marked((768, 1024))
    widths, scales = [], []
    for seed in range(40):
        widths.append(t_downscale_width(image, mask, np.random.default_rng(seed))[0].shape[1])
        scales.append(t_scale(image, mask, np.random.default_rng(seed))[0].shape[1] / 1024)
    assert HARD_DOWNSCALE_WIDTH[0] <= min(widths) and max(widths) <= HARD_DOWNSCALE_WIDTH[1]
    assert PROBE_SCALE[0] - 0.001 <= min(scales) and max(scales) <= PROBE_SCALE[1] + 0.001
    narrow, narrow_mask = _marked((300, 380))  # never upscaled
    assert t_downscale_width(narrow, narrow_mask, np.random.default_rng(0))[0].shape[1] == 380


def test_downscaled_mask_keeps_a_thin_stroke():
    """Nearest-neighbour sampling of a 30 % downscale drops a 2-px stroke; area + threshold
    keeps it where it covers most of a pixel."""
    image = np.zeros((400, 400, 3), np.uint8)
    mask = np.zeros((400, 400), np.uint8)
    mask[:, 201:203] = 255  # nearest sampling at 0.3 reads columns 200 and 203 only
    _, small_mask = t_scale(image, mask, np.random.default_rng(0), (0.3, 0.3))
    assert small_mask.any()


def test_plain_copy_and_chains_are_deterministic():
    image, mask = _marked()
    for chain in [PLAIN_COPY, *HARD_CHAINS.values()]:
        first = chain(image, mask, np.random.default_rng(7))
        second = chain(image, mask, np.random.default_rng(7))
        assert np.array_equal(first[0], second[0]) and first[2] == second[2]


@pytest.mark.parametrize("kind", sorted(LOW_TEXTURE_GENERATORS))
def test_low_texture_generators_are_deterministic_and_have_siblings(kind):
    generate = LOW_TEXTURE_GENERATORS[kind]
    image = generate(5)
    assert image.dtype == np.uint8 and image.ndim == 3 and min(image.shape[:2]) >= 512
    assert np.array_equal(image, generate(5))
    sibling = generate(5, 1)
    assert sibling.shape == image.shape  # same design: size and palette come from the seed
    assert not np.array_equal(sibling, image)
    assert not np.array_equal(generate(6), image)


def test_low_texture_generators_are_where_local_features_fail():
    """Most of the procedural low-texture images fall under the base tier's keypoint or PDQ
    quality floor (text cards often do not: their letters have corners)."""
    low = 0
    kinds = [k for k in LOW_TEXTURE_GENERATORS if k != "text_card"]
    for kind in kinds:
        for seed in range(3):
            image = LOW_TEXTURE_GENERATORS[kind](seed)
            low += len(extract_features(image)) < 150 or pdq_hash(image).quality < 30
    assert low >= 0.8 * 3 * len(kinds)


@pytest.mark.parametrize("kind", sorted(VARIANTS))
def test_versions_are_near_but_not_identical(kind):
    from skimage import data

    image = data.astronaut()
    version = VARIANTS[kind](image, np.random.default_rng(1))
    assert not (version.shape == image.shape and np.array_equal(version, image))
    if kind != "slight_crop":
        assert version.shape == image.shape
        assert 0 < (version != image).any(axis=2).mean() <= (1.0 if kind == "colour" else 0.05)
    else:
        assert 0.92 * 512 <= min(version.shape[:2]) < 512


def test_distractor_families_are_near_duplicates_of_each_other():
    family = [hard_distractor(DISTRACTOR_FAMILY_SIZE * 2 + m) for m in range(4)]
    assert np.array_equal(family[0], hard_distractor(DISTRACTOR_FAMILY_SIZE * 2))
    for member in family[1:]:
        assert not (member.shape == family[0].shape and np.array_equal(member, family[0]))
    assert family[2].shape == family[0].shape  # the colour grade keeps the geometry


def test_reserved_packages_are_refused_in_the_hard_tier_too():
    for part in FORBIDDEN_NAME_PARTS:
        with pytest.raises(ValueError, match="reserved"):
            list(iter_system_images((f"/usr/share/wallpapers/{part}",), (".svg", ".webp")))


def test_design_groups():
    from pathlib import Path

    gnome = "/usr/share/backgrounds/gnome"
    assert design_group(Path(f"{gnome}/blobs-d.svg")) == design_group(Path(f"{gnome}/blobs-l.svg"))
    theme = "/usr/share/desktop-base/joy-theme"
    assert design_group(Path(f"{theme}/grub/grub-4x3.png")) == design_group(
        Path(f"{theme}/wallpaper/contents/images/1920x1080.svg")
    )
    mate = "/usr/share/backgrounds/mate"
    assert design_group(Path(f"{mate}/abstract/Elephants_3840x2160.jpg")) == design_group(
        Path(f"{mate}/abstract/Elephants.jpg")
    )
    assert design_group(Path(f"{mate}/desktop/Ubuntu-Mate-Cold-no-logo.png")) == design_group(
        Path(f"{mate}/desktop/Ubuntu-Mate-Warm-no-logo.png")
    )


def test_transparent_images_are_composited_over_a_colour_not_white(tmp_path):
    rgba = np.zeros((300, 300, 4), np.uint8)
    rgba[100:200, 100:200] = (255, 255, 255, 255)
    path = tmp_path / "overlay.png"
    cv2.imwrite(str(path), rgba)
    image = load_hard_image(path)
    assert image.shape == (300, 300, 3)
    assert image[0, 0].max() < 200 and (image[150, 150] == 255).all()


def _designs() -> list[DesignSource]:
    """Tiny hard-tier sources: two photos, one version pair, procedural low-texture images."""
    photos = {s.name: s for s in skimage_sources()}
    designs = [
        DesignSource(photos[name], photos[name].family, False, "skimage")
        for name in ("skimage-astronaut", "skimage-coffee", "skimage-chelsea")
    ]
    for index, kind in enumerate(
        ["fog", "gradient", "illustration", "abstract", "fog", "gradient"]
    ):
        name = f"low-{kind}-{index}"
        generate = LOW_TEXTURE_GENERATORS[kind]
        designs.append(
            DesignSource(
                Source(name, name, partial(generate, 40 + index)),
                name,
                False,
                f"procedural-{kind}",
                sibling=partial(generate, 40 + index, 1),
            )
        )
    grey = photos["skimage-camera"]
    for variant, tint in (("dark", 0.6), ("light", 1.0)):
        name = f"design-{variant}"
        load = lambda t=tint, s=grey: (s.load() * t).astype(np.uint8)  # noqa: E731
        designs.append(DesignSource(Source(name, name, load), "design", True, "versions"))
    return designs


def test_same_picture_at_two_resolutions_is_kept_once():
    from skimage import data

    image = data.astronaut()
    small = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)
    designs = [
        DesignSource(Source(n, n, lambda i=i: i), "astro", True, "test")
        for n, i in (("big", image), ("small", small))
    ]
    members, _, skipped = prepare_groups(designs, {}, seed=0)
    assert len(members["astro"]) == 1 and skipped["duplicate"] == 1


def test_a_group_takes_the_base_tiers_split_and_never_straddles():
    from skimage import data

    image = data.astronaut()
    designs = [
        DesignSource(Source(n, n, lambda: image), g, True, "test")
        for n, g in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("b2", "b"))
    ]
    base = {"a1": "test", "b1": "tune", "b2": "test"}
    members, splits, skipped = prepare_groups(designs, base, seed=0)
    assert splits == {"a": "test"} and "b" not in members and skipped["straddling"] == 2


def test_measured_texture_label():
    from skimage import data

    design = DesignSource(Source("x", "x", lambda: None), "x", False, "test")
    assert measured_member(design, data.astronaut()).texture == "textured"
    flat = LOW_TEXTURE_GENERATORS["gradient"](0)
    assert measured_member(design, flat).texture == "low"


SEED = 82
EDIT_KINDS = ["splice", "text"]


def _cases(path) -> list[dict]:
    return [json.loads(line) for line in (path / "queries/cases.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tiny_hard(tmp_path_factory):
    out = tmp_path_factory.mktemp("hard") / "test"
    # Seed 82 puts a photo, low-texture originals, the version pair and a synthetic pair in the
    # test split, and one photo among its unrelated queries (draws of stable_fraction).
    meta = generate_hard_cases(
        out, split="test", seed=SEED, sources=_designs(), extra_unrelated=3, edits=EDIT_KINDS
    )
    assert meta["roles"]["pairs"] == 2 and meta["queries_per_class"]["low_texture"] > 0
    return out, meta


def test_hard_generator_labels_every_case_and_is_deterministic(tiny_hard, tmp_path):
    out, meta = tiny_hard
    cases = _cases(out)
    assert meta["tier"] == "hard" and meta["queries"] == len(cases) > 0
    for case in cases:
        assert case["tier"] == "hard" and case["class"] == case["classes"][0]
        assert set(case["classes"]) <= set(HARD_CLASSES)
        assert case["class_combination"] == "+".join(case["classes"])
        assert (case["expected"] is None) == (case["class"] == "unrelated")
        query = cv2.imread(str(out / case["query"]))
        if case["group"] == "edited":
            mask = cv2.imread(str(out / case["mask"]), cv2.IMREAD_GRAYSCALE)
            assert mask.shape == query.shape[:2] and (mask > 0).mean() >= 0.002
            assert "edited_hard" in case["classes"]
        if "low_texture" in case["classes"]:
            assert case["texture"] == "low"
        if case["pair"]:
            assert case["class"] == "near_duplicate" and (out / case["pair"]).is_file()
    kinds = {c["pair_kind"] for c in cases if c["pair"]}
    assert "versions" in kinds and len(kinds) == 2  # a real version pair and a synthetic one
    again = generate_hard_cases(
        tmp_path / "again",
        split="test",
        seed=SEED,
        sources=_designs(),
        extra_unrelated=3,
        edits=EDIT_KINDS,
    )
    assert again == meta
    for case in cases[:5]:
        assert (out / case["query"]).read_bytes() == (
            tmp_path / "again" / case["query"]
        ).read_bytes()


def test_hard_split_is_disjoint_from_tune(tiny_hard, tmp_path):
    out, _ = tiny_hard
    generate_hard_cases(tmp_path / "tune", split="tune", seed=SEED, sources=_designs(), edits=[])
    tune = {c["source"] for c in _cases(tmp_path / "tune")}
    test = {c["source"] for c in _cases(out)}
    assert tune and test and not tune & test


def test_evaluator_reports_every_class_and_tier_on_a_tiny_hard_tier(tiny_hard):
    out, meta = tiny_hard
    metrics = evaluate(out, distractors=8)
    assert metrics["tier"] == "hard" and metrics["procedural_distractors"] == 8
    assert metrics["case_distractors"] == len(list((out / "distractors").glob("*.jpg"))) > 0
    present = {c for c in meta["queries_per_class"] if meta["queries_per_class"][c]}
    assert present == set(metrics["per_class"]) and {"low_texture", "near_duplicate"} <= present
    figures = {
        "queries",
        "recall_at_1",
        "recall_at_any_of_pair",
        "candidate_recall",
        "wrong_matches",
        "false_matches",
        "false_match_rate",
        "false_edit_rate",
        "edit_detection_rate",
        "mean_iou",
        "latency_ms_p50",
        "latency_ms_p95",
    }
    for name, values in metrics["per_class"].items():
        assert set(values) == figures, name
        assert values["queries"] == meta["queries_per_class"][name]
    assert set(metrics["per_tier"]) == {"hard"}
    assert metrics["per_tier"]["hard"]["queries"] == metrics["queries"]
    pair = metrics["per_class"]["near_duplicate"]
    assert pair["recall_at_any_of_pair"] >= pair["recall_at_1"]
    assert metrics["per_combination"]["mirror"]["recall_at_any_of_pair"] is None  # no pair
    assert metrics["per_class"]["unrelated"]["false_match_rate"] is not None
    table = format_table(metrics)
    assert "per_class" in table and "probe_chain" in table and "recall_at_1_copies" in table


def test_pdq_reach_groups_the_hard_tier_by_class(tiny_hard):
    from factcheck.evaluation.pdq_reach import pdq_reach

    out, _ = tiny_hard
    reach = pdq_reach(out, [31, 256])
    assert "copy:mirror" in reach and "copy:probe_chain+low_texture" in reach
    assert reach["all"]["within_256"] == 1.0
