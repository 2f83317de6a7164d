"""The one global image embedding of retrieval: CLIP when configured, else the learned descriptor.

`configured_embedder()` is loaded once per process. `embedding_tag()` names its space: every
stored vector (`Fingerprint.embedding`) records the tag it was computed in, and only rows of the
current tag are indexed or compared, so a deployment that switches model (CLIP on or off, a new
descriptor version) never mixes spaces; `manage.py embed_references` fills in the rest.

The descriptor comes from FACTCHECK_DESCRIPTOR_CONFIG. Unset, it is the shipped config, and
retrieval runs without a global embedding while that checkpoint is absent (PDQ and local features
still work). A configured path that is missing or corrupt raises EmbeddingUnavailable instead: a
configuration error must not silently disable retrieval.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from factcheck.core.descriptor import Descriptor
    from factcheck.core.matcher import Embedder

logger = logging.getLogger(__name__)
SETTING = "FACTCHECK_DESCRIPTOR_CONFIG"

_lock = threading.Lock()
# (config path, explicitly configured) -> the loaded descriptor, or None for an absent default.
_descriptors: dict[tuple[str, bool], Descriptor | None] = {}


class EmbeddingUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded; the message names the file."""


def configured_embedder() -> Embedder | None:
    """CLIP when CLIP_MODEL_NAME is set, else the learned descriptor, else None."""
    if settings.CLIP_MODEL_NAME:
        from factcheck.clip_model import clip_embedder

        return clip_embedder()
    return configured_descriptor()


def embedding_tag() -> str:
    """The space stored vectors must belong to: the CLIP model name (what rows stored before the
    descriptor carry), the descriptor's tag, or "" without an embedding."""
    if settings.CLIP_MODEL_NAME:
        return str(settings.CLIP_MODEL_NAME)
    descriptor = configured_descriptor()
    return descriptor.tag if descriptor is not None else ""


def embedding_models() -> dict[str, str]:
    """The report's `models` entry of the configured embedding (empty without one)."""
    if settings.CLIP_MODEL_NAME:
        weights = settings.CLIP_PRETRAINED or settings.CLIP_WEIGHTS_FILE or "random-init"
        return {"clip": f"{settings.CLIP_MODEL_NAME}/{weights}"}
    descriptor = configured_descriptor()
    return {"descriptor": descriptor.tag} if descriptor is not None else {}


def configured_descriptor() -> Descriptor | None:
    """The learned descriptor named by FACTCHECK_DESCRIPTOR_CONFIG (see the module docstring).
    A failed load is not cached: fixing the file and retrying works without a restart."""
    path, explicit = _descriptor_config()
    if path is None:
        return None
    key = (str(path), explicit)
    with _lock:
        if key not in _descriptors:
            _descriptors[key] = _descriptor_load(path, explicit=explicit)
        return _descriptors[key]


def embedder_cache_clear() -> None:
    """Forget loaded descriptors (tests; a worker loads a new checkpoint on its next use)."""
    with _lock:
        _descriptors.clear()


def _descriptor_config() -> tuple[Path | None, bool]:
    """(config path or None when disabled, whether it was configured explicitly)."""
    configured = getattr(settings, SETTING, None)
    if configured is None:
        from factcheck.core.descriptor import DEFAULT_CONFIG_PATH

        return DEFAULT_CONFIG_PATH, False
    if not str(configured).strip():
        return None, True
    return Path(str(configured).strip()).expanduser().resolve(), True


def _descriptor_load(path: Path, *, explicit: bool) -> Descriptor | None:
    from factcheck.core.descriptor import DescriptorError, get_descriptor

    try:
        if not explicit and not _checkpoint_present(path):
            logger.info(
                "no learned descriptor checkpoint next to %s: retrieval runs without a global "
                "embedding (set %s to a config, or CLIP_MODEL_NAME)",
                path,
                SETTING,
            )
            return None
        return get_descriptor(path)
    except DescriptorError as error:
        raise EmbeddingUnavailable(f"{error} (check {SETTING})") from error


def _checkpoint_present(path: Path) -> bool:
    """Whether the shipped config and the checkpoint it names both exist (a corrupt config
    still raises: something is there and it is wrong)."""
    from factcheck.core.descriptor import load_config

    if not path.is_file():
        return False
    return (path.parent / load_config(path).weights).is_file()
