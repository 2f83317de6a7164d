"""EXIF summary (Pillow) and C2PA manifest reading (c2pa-python), JSON-safe and bounded."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

MAX_TEXT_LENGTH = 200  # camera strings are short; anything longer is truncated
MAX_LIST_ITEMS = 20  # actions / ingredients reported per manifest
_EXIF_FIELDS = {
    "Make": "make",
    "Model": "model",
    "Software": "software",
    "DateTime": "datetime",
    "Orientation": "orientation",
}
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 0x9003
_MIME_BY_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"GIF8", "image/gif"),
)


def _read_bytes(source: Path | str | bytes) -> bytes:
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    return Path(source).read_bytes()


def _clean_text(value: Any) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).replace("\x00", "").strip()[:MAX_TEXT_LENGTH] or None


def exif_summary(source: Path | str | bytes) -> dict[str, Any]:
    """{make, model, software, datetime, datetime_original, orientation, has_gps}; empty dict
    when the image has no EXIF; {"error": ...} when the file cannot be parsed."""
    try:
        with Image.open(io.BytesIO(_read_bytes(source))) as image:
            exif = image.getexif()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return {"error": f"cannot read image metadata: {exc.__class__.__name__}"}
    if not exif:
        return {}
    summary: dict[str, Any] = {}
    for tag_id, value in exif.items():
        name = ExifTags.TAGS.get(tag_id)
        if name in _EXIF_FIELDS:
            summary[_EXIF_FIELDS[name]] = _clean_text(value)
    original = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)
    if original is not None:
        summary["datetime_original"] = _clean_text(original)
    # Presence only: coordinates are personal data and not needed to judge authenticity.
    summary["has_gps"] = bool(exif.get_ifd(_GPS_IFD))
    return summary


def _sniff_mime(payload: bytes) -> str | None:
    for magic, mime in _MIME_BY_MAGIC:
        if payload.startswith(magic):
            return mime
    if payload[:4] == b"RIFF" and payload[8:12] == b"WEBP":
        return "image/webp"
    if payload[4:8] == b"ftyp":
        brand = payload[8:12]
        return "image/avif" if brand.startswith(b"avi") else "image/heic"
    return None


def c2pa_summary(source: Path | str | bytes) -> dict[str, Any] | None:
    """None when there is no C2PA manifest; otherwise a summary of the active manifest, or
    {"state": "error", "error": ...} when the manifest or file is malformed."""
    import c2pa

    payload = _read_bytes(source)
    mime = _sniff_mime(payload)
    if mime is None:
        return {"state": "error", "error": "unrecognised file format for C2PA reading"}
    try:
        reader = c2pa.Reader(mime, io.BytesIO(payload))
        try:
            store = json.loads(reader.json())
        finally:
            reader.close()
    except c2pa.C2paError as exc:
        if type(exc).__name__.endswith("ManifestNotFound"):
            return None
        return {"state": "error", "error": str(exc)[:MAX_TEXT_LENGTH]}
    return _summarise_store(store)


def _summarise_store(store: dict[str, Any]) -> dict[str, Any]:
    active_label = store.get("active_manifest")
    manifest = store.get("manifests", {}).get(active_label, {})
    signature = manifest.get("signature_info", {}) or {}
    actions: list[str] = []
    for assertion in manifest.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            actions += [str(a.get("action")) for a in assertion.get("data", {}).get("actions", [])]
    ingredients = [
        {"title": _clean_text(i.get("title")), "relationship": _clean_text(i.get("relationship"))}
        for i in manifest.get("ingredients", [])[:MAX_LIST_ITEMS]
    ]
    statuses = store.get("validation_status") or []
    return {
        "state": str(store.get("validation_state") or ("invalid" if statuses else "valid")).lower(),
        "claim_generator": _clean_text(manifest.get("claim_generator")),
        "issuer": _clean_text(signature.get("issuer")),
        "signer": _clean_text(signature.get("common_name")),
        "signed_at": _clean_text(signature.get("time")),
        "actions": actions[:MAX_LIST_ITEMS],
        "ingredients": ingredients,
        "validation_errors": [_clean_text(s.get("code")) for s in statuses[:MAX_LIST_ITEMS]],
    }
