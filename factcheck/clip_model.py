"""The CLIP embedder built from settings, loaded once per process (factcheck.embedding decides
whether CLIP is the global embedding)."""

from django.conf import settings

from factcheck.core.clip import ClipConfig, ClipEmbedder, get_embedder


def clip_config_from_settings() -> ClipConfig:
    return ClipConfig(
        model_name=settings.CLIP_MODEL_NAME,
        pretrained=settings.CLIP_PRETRAINED,
        weights_path=settings.CLIP_WEIGHTS_FILE,
        device=settings.CLIP_DEVICE,
        batch_size=settings.CLIP_BATCH_SIZE,
        allow_random_init=settings.CLIP_ALLOW_RANDOM_INIT,
    )


def clip_embedder() -> ClipEmbedder:
    return get_embedder(clip_config_from_settings())
