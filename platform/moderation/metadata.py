"""Submission metadata (author, reach, links ... sent with the content): what is accepted.

Every intake (API, webhook, upload, command line) goes through `metadata_check` before a row is
written: the document is stored as jsonb, read by review priority (`reach`), shown to reviewers
and copied into fact-check cases (`url` becomes a claim's appearance link). A value any of those
cannot take is refused with the path of the field, rather than failing later in a worker.
"""

from __future__ import annotations

import json
import math
from typing import Any

from config.jsoninput import JsonRejected, json_check
from mediastore.links import http_url

MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 6
MAX_METADATA_KEYS = 200
# Numbers must survive a round trip through JavaScript (the review UI, most receivers).
MAX_METADATA_INTEGER = 2**53 - 1
# More people than exist is a bad value, not a big reach.
MAX_REACH = 10**11
# Keys whose string values are links: http(s) only, since they are rendered as links.
URL_KEYS = frozenset({"url", "permalink"})
URL_KEY_SUFFIX = "_url"


class MetadataInvalid(ValueError):
    """The metadata cannot be accepted; `field` is the path of the offending value."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _is_url_key(key: str) -> bool:
    return key in URL_KEYS or key.endswith(URL_KEY_SUFFIX)


def metadata_check(metadata: Any, *, prefix: str = "metadata") -> dict[str, Any]:
    """Return `metadata` (None becomes {}) if acceptable, else raise MetadataInvalid.

    `prefix` names the document in messages (the webhook says "data")."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise MetadataInvalid("must be a JSON object", field=prefix)
    try:
        json_check(metadata, max_depth=MAX_METADATA_DEPTH, where=prefix)
        size = len(json.dumps(metadata, allow_nan=False).encode())
    except JsonRejected as error:
        message = str(error).removeprefix(f"{error.path}: ")
        raise MetadataInvalid(message, field=error.path or prefix) from None
    except ValueError:  # allow_nan=False: NaN or Infinity from a caller other than JSON
        raise MetadataInvalid("numbers must be finite", field=prefix) from None
    if size > MAX_METADATA_BYTES:
        raise MetadataInvalid(
            f"is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}", field=prefix
        )
    keys = 0
    pending: list[tuple[str, Any]] = [(prefix, metadata)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            keys += len(value)
            for key, item in value.items():
                if not isinstance(key, str):
                    raise MetadataInvalid("keys must be strings", field=path)
                child = f"{path}.{key}"
                if _is_url_key(key) and isinstance(item, str) and not http_url(item):
                    raise MetadataInvalid(
                        "must be an http(s) URL (other schemes are never stored)", field=child
                    )
                pending.append((child, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_METADATA_INTEGER:
                raise MetadataInvalid(
                    f"integers must be at most {MAX_METADATA_INTEGER} in magnitude", field=path
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise MetadataInvalid("numbers must be finite", field=path)
        else:
            raise MetadataInvalid(f"{type(value).__name__} is not a JSON value", field=path)
    if keys > MAX_METADATA_KEYS:
        raise MetadataInvalid(f"has {keys} keys; the limit is {MAX_METADATA_KEYS}", field=prefix)
    reach = metadata.get("reach")
    if reach is not None and (
        isinstance(reach, bool) or not isinstance(reach, int) or not 0 <= reach <= MAX_REACH
    ):
        raise MetadataInvalid(f"must be an integer from 0 to {MAX_REACH}", field=f"{prefix}.reach")
    return metadata
