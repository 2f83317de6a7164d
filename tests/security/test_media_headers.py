"""Every view that serves uploaded media or report artifacts sends nosniff, a sandboxing CSP and
a fixed safe Content-Disposition: found by walking the URLconf, not by a hand-kept list."""

from __future__ import annotations

import pytest

from mediastore.serving import MEDIA_CONTENT_SECURITY_POLICY, safe_download_name

from .test_authz_matrix import _fill, methods_of, url_templates

pytestmark = pytest.mark.django_db
KNOWN_MEDIA_VIEWS = {
    "/api/v1/submissions/{pk}/artifacts/{kind}.png",
    "/review/items/{pk}/media",
    "/review/items/{pk}/reports/{version}/{kind}.png",
    "/review/items/{pk}/references/{reference_id}",
    "/cases/{pk}/evidence/{evidence_id}/image",
    "/cases/{pk}/submissions/{submission_id}/image",
    "/cases/{pk}/overlays/{artifact_id}.png",
}


@pytest.mark.slow
def test_every_image_response_is_sandboxed(world) -> None:
    served: set[str] = set()
    for template, callback in url_templates():
        if "GET" not in methods_of(template, callback):
            continue
        url = _fill(template, world)
        for persona in ("own_client", "admin"):
            response = world.clients[persona].get(url)
            if response.status_code != 200 or not response["Content-Type"].startswith("image/"):
                continue
            served.add(template)
            assert response["X-Content-Type-Options"] == "nosniff", template
            assert response["Content-Security-Policy"] == MEDIA_CONTENT_SECURITY_POLICY, template
            disposition = response["Content-Disposition"]
            assert disposition.startswith('inline; filename="'), (template, disposition)
            name = disposition.split('filename="', 1)[1].rstrip('"')
            assert name == safe_download_name(name.rsplit(".", 1)[0], response["Content-Type"])
            b"".join(response.streaming_content)  # closes the file
    assert served >= KNOWN_MEDIA_VIEWS


@pytest.mark.parametrize(
    ("stem", "content_type", "expected"),
    [
        ("3-edit_mask", "image/png", "3-edit_mask.png"),
        ('evil"; filename=x.html', "image/jpeg", "evil-filename-x-html.jpg"),
        ("../../etc/passwd", "image/gif", "etc-passwd.gif"),
        ("", "image/webp", "image.webp"),
        ("a" * 200, "image/png", "a" * 80 + ".png"),
    ],
)
def test_download_names_are_safe(stem: str, content_type: str, expected: str) -> None:
    assert safe_download_name(stem, content_type) == expected
