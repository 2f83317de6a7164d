import numpy as np

from factcheck.core.fingerprints import (
    PDQ_BYTES,
    hamming_distance,
    pack_bits,
    pdq_dihedral_hashes,
    pdq_hash,
)

# Facebook's recommended near-duplicate threshold for PDQ.
DUPLICATE_THRESHOLD = 31


def test_pack_unpack_roundtrip():
    bits = np.random.default_rng(0).integers(0, 2, (3, 256))
    packed = pack_bits(bits)
    assert packed.shape == (3, PDQ_BYTES) and packed.dtype == np.uint8
    assert np.array_equal(np.unpackbits(packed, axis=-1), bits)


def test_hash_stable_under_resize_and_jpeg(astronaut, recompress_resize):
    original = pdq_hash(astronaut)
    copy = pdq_hash(recompress_resize(astronaut, 0.5, 50))
    assert original.bits.shape == (PDQ_BYTES,)
    assert original.quality >= 50
    assert hamming_distance(original.bits, copy.bits) <= DUPLICATE_THRESHOLD


def test_hash_differs_for_unrelated_images(astronaut, coffee, scene):
    assert hamming_distance(pdq_hash(astronaut).bits, pdq_hash(coffee).bits) > 80
    assert hamming_distance(pdq_hash(astronaut).bits, pdq_hash(scene).bits) > 80


def test_dihedral_hashes_cover_rotations_and_flips(astronaut):
    hashes, quality = pdq_dihedral_hashes(astronaut)
    assert hashes.shape == (8, PDQ_BYTES) and quality >= 50
    assert np.array_equal(hashes[0], pdq_hash(astronaut).bits)
    for variant in (np.rot90(astronaut), astronaut[:, ::-1], astronaut[::-1]):
        variant_hash = pdq_hash(np.ascontiguousarray(variant)).bits
        best = min(hamming_distance(variant_hash, h) for h in hashes)
        assert best <= DUPLICATE_THRESHOLD
        # ...while the unrotated hash alone would not have matched.
        assert hamming_distance(variant_hash, hashes[0]) > DUPLICATE_THRESHOLD
