import cv2
import numpy as np
import pytest

from factcheck.core.dense import DenseConfig, confirmable, dense_verify, edit_fits
from factcheck.core.features import extract_features
from factcheck.core.fingerprints import pdq_hash
from factcheck.core.index import ClipIndex, FloatIndexConfig, PdqIndex
from factcheck.core.local_index import LocalIndex
from factcheck.core.matcher import (
    DENSE_EDIT_NOT_CONFIRMING,
    DENSE_NOT_CONFIRMING,
    DETAIL_DIFFERS,
    Candidate,
    MatchConfig,
    _likeness_order,
    match_image,
)
from factcheck.core.verify import CONCENTRATED, verify
from factcheck.evaluation.evaledits import e_recolour, jpeg
from factcheck.evaluation.evallowtexture import fog_image, illustration_image, text_card_image
from factcheck.evaluation.evaluate import InMemoryReferences


def _setup(images: dict[int, np.ndarray]):
    references = InMemoryReferences(images=dict(images), config=MatchConfig())
    pdq = PdqIndex.build(
        np.stack([pdq_hash(im).bits for im in images.values()]), np.array(list(images))
    )
    local = LocalIndex.build(
        {ref_id: references.load_reference_features(ref_id) for ref_id in images}
    )
    return references, pdq, local


def test_finds_edited_original_and_reports_contract(astronaut, coffee, scene):
    references, pdq, local = _setup({7: astronaut, 8: coffee, 9: scene})
    query = astronaut.copy()
    query[50:170, 300:460] = cv2.resize(coffee, (160, 120))
    result = match_image(query, references=references, pdq_index=pdq, local_index=local)
    assert result.matches and result.matches[0].reference_id == 7
    item = result.matches[0].to_dict()
    assert set(item) == {
        "reference_id",
        "similarity",
        "inliers",
        "transform",
        "edited",
        "edited_fraction",
        "regions",
        "mirrored",
        "verified_by",
    }
    assert item["mirrored"] is False and item["verified_by"] == "local_features"
    assert item["edited"] and 0 < item["similarity"] < 1 and 0 < item["edited_fraction"] < 0.2
    assert np.allclose(item["transform"], np.eye(3), atol=0.05)
    assert result.matches[0].edit_mask.shape == query.shape[:2]
    # Each step's cost; together they are the whole.
    steps = ("features", "candidates", "verify", "localize")
    assert all(result.timings_ms[step] >= 0 for step in steps)
    assert sum(result.timings_ms[step] for step in steps) == pytest.approx(
        result.timings_ms["total"], abs=0.01
    )


def test_crop_found_through_local_index_only(astronaut, coffee):
    references, pdq, local = _setup({1: astronaut, 2: coffee})
    crop = np.ascontiguousarray(astronaut[40:330, 120:500])
    config = MatchConfig(pdq_max_distance=20)  # PDQ alone cannot find this crop
    result = match_image(
        crop, references=references, pdq_index=pdq, local_index=local, config=config
    )
    assert [m.reference_id for m in result.matches] == [1]
    assert not result.matches[0].edited


def test_unrelated_query_has_no_match(astronaut, coffee, other_scene):
    references, pdq, local = _setup({1: astronaut, 2: coffee})
    result = match_image(other_scene, references=references, pdq_index=pdq, local_index=local)
    assert result.matches == []


def _mirror_crop(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    crop = np.ascontiguousarray(image[:, ::-1][height // 10 : -height // 10, width // 10 :])
    return cv2.resize(crop, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)


def test_mirrored_cropped_repost_is_found_and_said_to_be_mirrored(astronaut, coffee, scene):
    references, pdq, local = _setup({1: astronaut, 2: coffee, 3: scene})
    query = _mirror_crop(astronaut)
    result = match_image(query, references=references, pdq_index=pdq, local_index=local)
    assert [m.reference_id for m in result.matches][:1] == [1]
    top = result.matches[0]
    assert top.mirrored and np.linalg.det(top.transform[:2, :2]) < 0
    assert not top.edited  # the mirror is undone before comparing pixels
    no_mirror = match_image(
        query,
        references=references,
        pdq_index=pdq,
        local_index=local,
        config=MatchConfig(mirror=False, dense=DenseConfig(enabled=False)),
    )
    assert not [m for m in no_mirror.matches if m.reference_id == 1]


class HistogramEmbedder:
    """A stand-in global embedding for matcher tests (colour histograms: mirror- and
    crop-tolerant), so these tests do not depend on the trained descriptor."""

    dim = 48
    min_similarity = 0.5
    dense_confirm_margin = None

    def embed(self, images):
        rows = []
        for image in images:
            histogram = np.concatenate(
                [np.histogram(image[..., c], bins=16, range=(0, 256))[0] for c in range(3)]
            ).astype(np.float32)
            rows.append(histogram / np.linalg.norm(histogram))
        return np.stack(rows)


def test_a_low_texture_copy_aligned_as_a_whole_is_a_near_miss_unless_dense_confirms():
    """Dense alignment finds a mirrored, cropped fog repost that PDQ and SIFT cannot; by default
    it is shown to the reviewer as the closest original, not confirmed (unrelated fogs align as
    well: docs/benchmarks.md), and with `confirms` on it is a verified match."""
    original, other = fog_image(8), fog_image(9)
    references, pdq, local = _setup({1: original, 2: other})
    embedder = HistogramEmbedder()
    embedding = ClipIndex.build(
        embedder.embed([original, other]), [1, 2], FloatIndexConfig(dim=embedder.dim)
    )
    query = _mirror_crop(original)
    indexes = dict(pdq_index=pdq, local_index=local, embedding_index=embedding, embedder=embedder)
    # PDQ does not survive the crop, SIFT finds too little: only the embedding proposes it.
    assert match_image(query, references=references, pdq_index=pdq, local_index=local).matches == []
    default = match_image(query, references=references, **indexes)
    assert default.matches == []
    assert [miss.reference_id for miss in default.near_misses][:1] == [1]
    assert default.near_misses[0].reason == DENSE_NOT_CONFIRMING
    confirming = MatchConfig(dense=DenseConfig(confirms=True))
    result = match_image(query, references=references, config=confirming, **indexes)
    assert [m.reference_id for m in result.matches] == [1]
    assert result.matches[0].verified_by == "dense_alignment" and result.matches[0].mirrored
    assert result.matches[0].embedding_similarity > 0.5
    without = match_image(
        query,
        references=references,
        config=MatchConfig(dense=DenseConfig(enabled=False, confirms=True)),
        **indexes,
    )
    assert without.matches == []
    assert [miss.reference_id for miss in without.near_misses][:1] == [1]
    assert without.near_misses[0].reason != DENSE_NOT_CONFIRMING


def test_an_edited_smooth_copy_is_a_near_miss_that_says_so_with_or_without_a_lead():
    """A recoloured flat illustration: SIFT finds too little and the whole-picture correlation
    refuses the alignment, but the detail agrees in all but the edited part
    (factcheck.core.dense.edit_fits). Whether or not the embedding singles the original out, it
    is the closest original, not confirmed, with the reason that says what lines up (another
    card of the same layout fits the same way: factcheck.core.dense.DenseConfig)."""
    picture = illustration_image(820000004)
    edited, _ = e_recolour(picture, np.random.default_rng(820000004), picture)
    images = {1: picture, **{i: illustration_image(830000000 + i) for i in range(2, 7)}}
    references, pdq, local = _setup(images)

    class Leading(HistogramEmbedder):
        dense_confirm_margin = 0.0

    outcomes = []
    for embedder in (HistogramEmbedder(), Leading()):
        embedding = ClipIndex.build(
            embedder.embed(list(images.values())), list(images), FloatIndexConfig(dim=embedder.dim)
        )
        outcomes.append(
            match_image(
                jpeg(edited, 70),
                references=references,
                pdq_index=pdq,
                local_index=local,
                embedding_index=embedding,
                embedder=embedder,
            )
        )
    for result in outcomes:
        assert result.matches == []
        assert [(m.reference_id, m.reason) for m in result.near_misses][:1] == [
            (1, DENSE_EDIT_NOT_CONFIRMING)
        ]


def test_an_edited_copy_exact_but_for_its_edit_is_a_match_where_configured():
    """A recoloured shape on a flat illustration whose rest aligns exactly
    (factcheck.core.dense.exact_but_edited). With DenseConfig.edited_confirms on, a verified
    match without the embedding's lead, reported as edited where the colour changed; by default,
    or with the rule's bar out of reach, the closest original, not confirmed."""
    picture = illustration_image(820000003)
    edited, truth = e_recolour(picture, np.random.default_rng(820000003), picture)
    images = {1: picture, **{i: illustration_image(830000000 + i) for i in range(2, 7)}}
    references, pdq, local = _setup(images)
    embedder = HistogramEmbedder()
    embedding = ClipIndex.build(
        embedder.embed(list(images.values())), list(images), FloatIndexConfig(dim=embedder.dim)
    )
    indexes = dict(pdq_index=pdq, local_index=local, embedding_index=embedding, embedder=embedder)
    query = jpeg(edited, 70)
    on = MatchConfig(dense=DenseConfig(edited_confirms=True))
    result = match_image(query, references=references, config=on, **indexes)
    assert [m.reference_id for m in result.matches] == [1]
    match = result.matches[0]
    assert match.verified_by == "dense_alignment" and match.edited
    assert (match.edit_mask[truth > 0] > 0).mean() > 0.5
    strict = MatchConfig(dense=DenseConfig(edited_confirms=True, edit_min_cell_detail=1.01))
    for config in (MatchConfig(), strict):
        result = match_image(query, references=references, config=config, **indexes)
        assert result.matches == [] and result.near_misses[0].reference_id == 1


def test_an_exact_dense_alignment_confirms_without_the_embeddings_lead():
    """A plain resized copy of a smooth fog agrees with its original in every fine detail and
    colour: a verified match even with an embedding that has no calibrated margin; another fog
    of the same kind, aligned just as a whole picture, stays a near miss."""
    original, other = fog_image(3), fog_image(4)
    references, pdq, local = _setup({1: original, 2: other})
    embedder = HistogramEmbedder()
    embedding = ClipIndex.build(
        embedder.embed([original, other]), [1, 2], FloatIndexConfig(dim=embedder.dim)
    )
    indexes = dict(pdq_index=pdq, local_index=local, embedding_index=embedding, embedder=embedder)
    copy = jpeg(cv2.resize(original, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), 60)
    result = match_image(copy, references=references, **indexes)
    assert [m.reference_id for m in result.matches] == [1]
    assert result.matches[0].verified_by == "dense_alignment" and not result.matches[0].edited
    not_exact = MatchConfig(dense=DenseConfig(exact_detail=1.01))
    assert match_image(copy, references=references, config=not_exact, **indexes).matches == []
    unrelated = jpeg(cv2.resize(fog_image(30), None, fx=0.6, fy=0.6), 60)
    assert match_image(unrelated, references=references, **indexes).matches == []


class TableEmbedder:
    """Gives each indexed picture its own vector and every other image (the query and its
    mirror) `query_vector`: the similarities a test needs, exactly."""

    min_similarity = 0.2
    dense_confirm_margin = 0.12

    def __init__(self, vectors: dict[bytes, np.ndarray], query_vector: np.ndarray):
        self.vectors, self.query_vector = vectors, query_vector
        self.dim = len(query_vector)

    def embed(self, images):
        return np.stack([self.vectors.get(image.tobytes(), self.query_vector) for image in images])


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, np.float32)
    return vector / np.linalg.norm(vector)


def _match_by_similarity(
    query: np.ndarray,
    images: dict[int, np.ndarray],
    original: np.ndarray,
    similarities: tuple[float, float],
    config: MatchConfig | None = None,
):
    """match_image over `images` with a 3-d table embedding: `original` at the first of
    `similarities` to the query, every other picture at the second, split over two directions so
    the others are not one another's copies."""
    references, pdq, local = _setup(images)
    own, theirs = similarities
    rest = np.sqrt(1 - theirs**2)
    vectors = {
        image.tobytes(): _unit(theirs, 0, rest) if n % 2 else _unit(theirs, -rest, 0)
        for n, image in enumerate(i for i in images.values() if i is not original)
    }
    vectors[original.tobytes()] = _unit(own, np.sqrt(1 - own**2), 0)
    embedder = TableEmbedder(vectors, _unit(1, 0, 0))
    embedding = ClipIndex.build(
        embedder.embed(list(images.values())), np.array(list(images)), FloatIndexConfig(dim=3)
    )
    return match_image(
        query,
        references=references,
        pdq_index=pdq,
        local_index=local,
        embedding_index=embedding,
        embedder=embedder,
        config=config,
    )


def test_dense_alignment_confirms_a_candidate_the_embedding_singles_out():
    """A mirrored, cropped fog copy aligns with its original as a whole picture; it is a
    verified match when its embedding similarity stands well clear of the other indexed fogs',
    and a near miss when several others are about as close (an unrelated fog's situation)."""
    original = fog_image(8)
    others = [fog_image(seed) for seed in range(20, 25)]
    images = {1: original, **{2 + n: other for n, other in enumerate(others)}}
    query = _mirror_crop(original)

    def run(other_similarity: float):
        # Similarity to the query: 0.95 for the original, `other_similarity` for the others.
        return _match_by_similarity(query, images, original, (0.95, other_similarity))

    distinct = run(other_similarity=0.6)  # lead over the 4th most similar: 0.35
    assert [m.reference_id for m in distinct.matches] == [1]
    assert distinct.matches[0].verified_by == "dense_alignment" and distinct.matches[0].mirrored
    crowded = run(other_similarity=0.9)  # lead 0.05: other fogs are nearly as close
    assert crowded.matches == []
    assert crowded.near_misses[0].reference_id == 1
    assert crowded.near_misses[0].reason == DENSE_NOT_CONFIRMING
    # With fewer indexed pictures than the margin's rank nothing tells how the original stands
    # out: dense alignment does not confirm it.
    few = {1: original, 2: others[0]}
    assert _match_by_similarity(query, few, original, (0.95, 0.1)).matches == []


def test_near_misses_need_evidence(astronaut, coffee, other_scene):
    references, pdq, local = _setup({1: astronaut, 2: coffee})
    result = match_image(other_scene, references=references, pdq_index=pdq, local_index=local)
    # Unrelated candidates far in PDQ and without inliers are not shown to a reviewer.
    assert all(
        miss.inliers >= 8 or (miss.pdq_distance is not None and miss.pdq_distance <= 63)
        for miss in result.near_misses
    )


class _CountingReferences(InMemoryReferences):
    """Counts reference-image loads: dense alignment and localisation are what read pixels."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.image_loads: list[int] = []

    def load_reference_image(self, ref_id: int) -> np.ndarray:
        self.image_loads.append(ref_id)
        return super().load_reference_image(ref_id)


def test_no_dense_alignment_once_local_features_verified_a_candidate(
    astronaut, coffee, monkeypatch
):
    images = {1: astronaut, 2: coffee, 3: fog_image(8)}
    references = _CountingReferences(images=images, config=MatchConfig())
    _, pdq, local = _setup(images)
    for ref_id in images:  # features cached, as a deployed system keeps them
        references.load_reference_features(ref_id)
    references.image_loads.clear()
    calls = []
    monkeypatch.setattr("factcheck.core.matcher.dense_verify", lambda *a: calls.append(a))
    # Every reference is a PDQ candidate (dense-worthy); the copy verifies by local features.
    config = MatchConfig(pdq_max_distance=256)
    result = match_image(
        np.ascontiguousarray(astronaut[::2, ::2]),
        references=references,
        pdq_index=pdq,
        local_index=local,
        config=config,
    )
    assert [m.reference_id for m in result.matches] == [1]
    assert calls == [] and references.image_loads == [1]  # the match's localisation only
    # Without a verified candidate, the dense fallback runs on what the indexes proposed.
    monkeypatch.undo()
    unrelated = fog_image(9)
    references.image_loads.clear()
    result = match_image(
        unrelated, references=references, pdq_index=pdq, local_index=local, config=config
    )
    assert result.matches == [] and references.image_loads


def test_a_sure_match_settles_the_orientation_of_later_candidates(astronaut, monkeypatch):
    """The mirrored query is verified only while the orientation is open; a near-identical
    second original is still verified in the orientation the first sure match settled."""
    twin = astronaut.copy()
    twin[10:60, 10:60] = 0
    references, pdq, local = _setup({1: astronaut, 2: twin})
    from factcheck.core import matcher

    seen = []
    original = matcher.verify

    def counting(query, reference, config):
        seen.append(query)
        return original(query, reference, config)

    monkeypatch.setattr(matcher, "verify", counting)
    query = np.ascontiguousarray(astronaut[:, ::-1])
    result = match_image(query, references=references, pdq_index=pdq, local_index=local)
    assert sorted(m.reference_id for m in result.matches) == [1, 2]
    assert all(m.mirrored for m in result.matches)
    # First candidate: as posted (fails), then mirrored (sure); second: mirrored only.
    assert len(seen) == 3


def test_another_text_card_sharing_a_frame_and_glyphs_is_a_near_miss_not_a_match():
    """Two different quote cards (seeds of neither evaluation split) whose frame corners and a
    few glyphs verify with local features: most of the reference's detail differs, so it is
    shown as the closest original, not as an edited copy of it."""
    reference = text_card_image(900_000_034)
    query = jpeg(text_card_image(910_000_031), 70)
    references, pdq, local = _setup({1: reference})
    guarded = match_image(query, references=references, pdq_index=pdq, local_index=local)
    assert guarded.matches == []
    assert [(m.reference_id, m.reason) for m in guarded.near_misses] == [(1, DETAIL_DIFFERS)]
    unguarded = match_image(
        query,
        references=references,
        pdq_index=pdq,
        local_index=local,
        config=MatchConfig(max_detail_changed=1.0),
    )
    assert [m.reference_id for m in unguarded.matches] == [1]  # what the guard stops
    assert unguarded.matches[0].detail_changed > 0.6


def test_an_edited_text_card_keeps_its_original():
    """The guard leaves a real copy alone: a caption added over a quote card changes the query,
    not the card's own detail."""
    reference = text_card_image(900_000_034)
    query = reference.copy()
    cv2.putText(query, "FAKE", (60, 120), cv2.FONT_HERSHEY_DUPLEX, 3, (255, 0, 0), 6)
    references, pdq, local = _setup({1: reference})
    result = match_image(jpeg(query, 70), references=references, pdq_index=pdq, local_index=local)
    assert [m.reference_id for m in result.matches] == [1]
    assert result.matches[0].edited and result.matches[0].detail_changed < 0.3


def test_dense_alignment_checks_the_most_alike_candidates_first():
    """Dense alignment checks a few candidates as whole pictures: the ones the embedding finds
    most alike, then the nearest by PDQ, not whichever a loose PDQ match put first."""
    loose_pdq = Candidate(1, pdq_distance=90, rank=0)
    embedding_second = Candidate(2, embedding_similarity=0.5, rank=0)
    embedding_first = Candidate(3, embedding_similarity=0.9, rank=1)
    near_pdq = Candidate(4, pdq_distance=20, rank=2)
    candidates = [loose_pdq, embedding_second, embedding_first, near_pdq]
    assert [c.reference_id for c in sorted(candidates, key=_likeness_order)] == [3, 2, 4, 1]


def test_dense_alignment_still_runs_when_every_verified_candidate_is_another_picture(
    monkeypatch,
):
    """A candidate local features verify but whose detail mostly differs (another picture of
    the same layout) is a near miss, and it must not stop the dense fallback from confirming
    the low-texture original that local features could not verify."""
    import dataclasses

    from factcheck.core import matcher
    from factcheck.core.verify import Verification

    original, layout_twin = fog_image(8), text_card_image(900_000_034)
    references, pdq, local = _setup({1: original, 2: layout_twin})
    twin_features = references.load_reference_features(2)
    real = matcher._feature_verification

    def verifying_the_twin(views, reference, config, orientation=None):
        if reference is twin_features:  # as if its frame and glyphs had verified
            return Verification(accepted=True, inliers=30, transform=np.eye(3)), False
        return real(views, reference, config, orientation)

    localized = matcher._localized_match

    def most_detail_differs(image, item, references, config):
        match = localized(image, item, references, config)
        twin = item.candidate.reference_id == 2
        return dataclasses.replace(match, detail_changed=0.9) if twin else match

    monkeypatch.setattr(matcher, "_feature_verification", verifying_the_twin)
    monkeypatch.setattr(matcher, "_localized_match", most_detail_differs)
    embedder = TableEmbedder(
        {original.tobytes(): _unit(1, 0), layout_twin.tobytes(): _unit(0.6, 1)}, _unit(1, 0.5)
    )
    embedding = ClipIndex.build(
        embedder.embed([original, layout_twin]), [1, 2], FloatIndexConfig(dim=embedder.dim)
    )
    result = match_image(
        _mirror_crop(original),
        references=references,
        pdq_index=pdq,
        local_index=local,
        embedding_index=embedding,
        embedder=embedder,
        config=MatchConfig(dense=DenseConfig(confirms=True)),
    )
    assert [m.reference_id for m in result.matches] == [1]
    assert result.matches[0].verified_by == "dense_alignment"
    assert (2, DETAIL_DIFFERS) in [(m.reference_id, m.reason) for m in result.near_misses]


def _probe_chain(image: np.ndarray) -> np.ndarray:
    """Mirrored, cropped off centre, downscaled to 40 %, JPEG 40: the hard tier's probe chain."""
    height, width = image.shape[:2]
    crop = np.ascontiguousarray(
        image[:, ::-1][height // 10 : -height // 12, width // 14 : -width // 9]
    )
    return jpeg(cv2.resize(crop, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA), 40)


def test_a_card_whose_words_alone_match_is_aligned_from_them_and_confirmed():
    """A quote card (a seed of neither evaluation split) reposted through the probe chain: its
    matching points all sit in the words (too concentrated to verify), and the crop is off
    centre, where dense alignment's start hypotheses miss. Aligned from the points' fit, the
    whole card agrees exactly: a verified match, its siblings (other words) not."""
    card = text_card_image(960_000_042)
    images = {1: card, 2: text_card_image(960_000_042, 1), 3: text_card_image(960_000_042, 2)}
    references, pdq, local = _setup(images)
    query = _probe_chain(card)
    result = match_image(query, references=references, pdq_index=pdq, local_index=local)
    assert [m.reference_id for m in result.matches] == [1]
    top = result.matches[0]
    assert top.verified_by == "dense_alignment" and top.inliers >= 20 and top.mirrored
    assert not top.edited
    unanchored = MatchConfig(dense=DenseConfig(max_anchored=0))
    before = match_image(
        query, references=references, config=unanchored, pdq_index=pdq, local_index=local
    )
    assert before.matches == []
    assert (1, CONCENTRATED) in [(m.reference_id, m.reason) for m in before.near_misses]


@pytest.mark.parametrize(
    ("seeds", "height"), [((950_000_217, 950_000_218), 0.2), ((950_001_071, 950_001_074), 0.8)]
)
def test_one_caption_on_two_dusk_scenes_is_not_one_picture(seeds, height):
    """Two unrelated dusk scenes (seeds of neither split) with one caption: local features
    match in its words only, and aligned from their fit the scenes agree as a whole and in
    their detail (an edit fit, or an alignment that is all but exact). The anchor finds the
    alignment; it does not lower the bar, so neither is a match."""
    first, second = (fog_image(seed) for seed in seeds)
    second = cv2.resize(second, (first.shape[1], first.shape[0]))
    reference, query = _captioned(first, height), jpeg(_captioned(second, height), 70)
    features = MatchConfig().features
    fit = verify(extract_features(query, features), extract_features(reference, features))
    assert fit.reason == CONCENTRATED
    aligned = dense_verify(query, reference, DenseConfig(), anchor=fit.transform)
    assert edit_fits(aligned, DenseConfig()) or confirmable(aligned, DenseConfig())
    references, pdq, local = _setup({1: reference})
    assert match_image(query, references=references, pdq_index=pdq, local_index=local).matches == []


def _captioned(image: np.ndarray, height_share: float) -> np.ndarray:
    """One caption across the picture, its baseline at `height_share` of the height."""
    captioned = image.copy()
    height, width = captioned.shape[:2]
    scale = 2.2 * width / 1024
    words = "NOT WHAT IT SEEMS"
    (text_width, _), _ = cv2.getTextSize(words, cv2.FONT_HERSHEY_DUPLEX, scale, 4)
    origin = ((width - text_width) // 2, int(height * height_share))
    cv2.putText(
        captioned, words, origin, cv2.FONT_HERSHEY_DUPLEX, scale, (255,) * 3, 4, cv2.LINE_AA
    )
    return captioned


def test_an_exact_alignment_further_down_the_likeness_order_confirms():
    """A mirrored, cropped, downscaled fog whose embedding ranks its original fifth, below four
    unrelated fogs: the first dense checks refuse those, and the next candidates in likeness
    order (`max_exact_only`) are checked on the exact bar alone, which the original meets. An
    unrelated fog in the original's place is not confirmed there."""
    original = fog_image(21)
    height, width = original.shape[:2]
    crop = np.ascontiguousarray(original[height // 10 : -height // 12, width // 14 : -width // 9])
    small = cv2.resize(crop[:, ::-1], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    query = jpeg(small, 60)
    others = [fog_image(seed) for seed in range(40, 44)]

    def run(fifth: np.ndarray, config: MatchConfig | None = None):
        images = {1: fifth, **{2 + n: other for n, other in enumerate(others)}}
        # Similarity to the query: 0.5 for the fifth picture, 0.9 for the unrelated fogs.
        return _match_by_similarity(query, images, fifth, (0.5, 0.9), config)

    found = run(original)
    assert [m.reference_id for m in found.matches] == [1]
    assert found.matches[0].verified_by == "dense_alignment" and found.matches[0].mirrored
    only_first = run(original, MatchConfig(dense=DenseConfig(max_exact_only=0)))
    assert only_first.matches == []
    assert run(fog_image(45)).matches == []
