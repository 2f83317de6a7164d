"""Hypothesis fuzzing of the two parsers that take untrusted bytes first: the image intake and
the inbound webhook payload/signature parser. Bounded (a few hundred examples, < 30 s in all);
the longer atheris run is documented in docs/benchmarks.md (scripts/fuzz_intake.py)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from integrations.inbound import PayloadInvalid, content_payload_parse
from integrations.signing import SignatureError, sign, verify
from mediastore.images import ImageRejected, inspect_image, load_rgb

FUZZ = settings(
    max_examples=200,
    deadline=None,  # a decode may take 100 ms on a loaded 2-core machine; the cap is below
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the suite is repeatable; the atheris run explores at random
)
PER_INPUT_SECONDS = 2.0
SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()


def _seed(image_format: str, width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


SEEDS = [_seed(f, 24, 16, i) for i, f in enumerate(("PNG", "JPEG", "GIF", "WEBP"))]


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    """A valid seed image with bytes flipped, cut, duplicated or spliced in."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        operation = draw(st.sampled_from(["flip", "cut", "insert", "repeat", "set16"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if operation == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif operation == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif operation == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 256))] * draw(st.integers(1, 8))
        else:  # a 16-bit field (a length, a width) set to an extreme
            data[at : at + 2] = draw(st.sampled_from([b"\xff\xff", b"\0\0", b"\x7f\xff"]))
    return bytes(data)


def _intake_survives(content: bytes) -> None:
    started = time.perf_counter()
    for check in (inspect_image, load_rgb):
        try:
            result = check(content)
        except ImageRejected as error:
            assert str(error) and error.code
        else:
            if isinstance(
                result, np.ndarray
            ):  # load_rgb's pixels; inspect_image's ImageInfo has none
                assert result.shape[2] == 3 and result.dtype == np.uint8
    assert time.perf_counter() - started < PER_INPUT_SECONDS


@FUZZ
@given(mutated_images())
def test_intake_mutated_images_are_accepted_or_refused_cleanly(content: bytes) -> None:
    _intake_survives(content)


@settings(FUZZ, max_examples=100)
@given(st.binary(max_size=512))
def test_intake_random_bytes_are_refused_cleanly(content: bytes) -> None:
    _intake_survives(content)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)


@st.composite
def webhook_bodies(draw: st.DrawFn) -> bytes:
    """Mostly well-formed content.created payloads with fields replaced by any JSON."""
    data: dict = {
        "id": draw(st.one_of(st.text(max_size=210), st.integers(), json_values)),
        "media_base64": draw(
            st.one_of(st.just(base64.b64encode(SEEDS[0]).decode()), st.text(max_size=40))
        ),
    }
    for key in ("caption", "author", "reach", "permalink", "posted_at", "media_url"):
        if draw(st.booleans()):
            data[key] = draw(json_values)
    if draw(st.booleans()):
        data.pop("media_base64")
    document: object = {"type": draw(st.sampled_from(["content.created", "x", 3])), "data": data}
    if draw(st.integers(0, 9)) == 0:
        document = draw(json_values)
    return json.dumps(document).encode()


@settings(FUZZ, max_examples=100)
@given(st.one_of(webhook_bodies(), st.binary(max_size=256)))
def test_webhook_payload_parser_accepts_or_names_the_field(body: bytes) -> None:
    try:
        payload = content_payload_parse(body)
    except PayloadInvalid as error:
        assert str(error)
    else:
        assert payload.type == "content.created"
        assert isinstance(payload.external_id, str) and payload.external_id
        assert (payload.media_url == "") != (payload.media_bytes is None)


header_text = st.text(st.characters(codec="latin-1"), max_size=80)


@settings(FUZZ, max_examples=100)
@given(
    webhook_id=header_text,
    timestamp=st.one_of(header_text, st.integers(0, 2**40).map(str), st.just("9" * 5000)),
    signature=st.one_of(header_text, st.lists(header_text, max_size=5).map(" ".join)),
    body=st.binary(max_size=64),
)
def test_signature_verification_never_fails_with_anything_but_signature_error(
    webhook_id: str, timestamp: str, signature: str, body: bytes
) -> None:
    headers = {"webhook-id": webhook_id, "webhook-timestamp": timestamp}
    headers["webhook-signature"] = signature
    with contextlib.suppress(SignatureError):
        verify(secrets=[SECRET], headers=headers, body=body, now=1_800_000_000)


def test_a_correctly_signed_body_still_verifies() -> None:
    # Guards the fuzz test above: it must not pass merely because verify always refuses.
    signature = sign(secret=SECRET, webhook_id="msg_1", timestamp=1_800_000_000, body=b"{}")
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1800000000",
        "webhook-signature": signature,
    }
    assert verify(secrets=[SECRET], headers=headers, body=b"{}", now=1_800_000_000) == "msg_1"
