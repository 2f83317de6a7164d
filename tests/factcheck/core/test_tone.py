import numpy as np

from factcheck.core.tone import match_tone


def test_global_tone_change_is_undone_and_a_local_edit_survives(astronaut):
    reference = astronaut.astype(np.float32)
    # A copy with a gamma/gain/offset change (what copies go through) ...
    query = np.clip(255 * (reference / 255) ** 1.2 * 1.1 - 12, 0, 255)
    # ... and a quarter of the picture recoloured, which must not bend the global curve.
    query[:256, :256] = query[:256, :256][..., ::-1]
    mask = np.full(reference.shape[:2], 255, np.uint8)
    mapped = match_tone(reference, query, mask)
    untouched = np.abs(mapped - query)[256:, :].mean()
    edited = np.abs(mapped - query)[:256, :256].mean()
    assert untouched < 3.0, untouched
    assert edited > 10 * untouched


def test_only_masked_pixels_fit_the_curve(coffee):
    reference = coffee.astype(np.float32)
    query = reference + 20  # brighter copy
    query[:, :100] = 0  # a black band that is not part of the overlap
    mask = np.full(reference.shape[:2], 255, np.uint8)
    mask[:, :100] = 0
    mapped = match_tone(reference, np.clip(query, 0, 255), mask)
    assert np.abs(mapped - np.clip(query, 0, 255))[:, 100:].mean() < 2.0


def test_flat_channel_is_left_alone():
    reference = np.full((20, 20, 3), 128, np.float32)
    mapped = match_tone(reference, reference + 5, np.full((20, 20), 255, np.uint8))
    assert np.allclose(mapped, reference)
