"""SVG rasterisation shared by detection's training sources and fact-check's evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediastore import rasterise
from mediastore.rasterise import render_svg

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">'
    '<rect width="200" height="100" fill="#ff0000"/></svg>'
)


def test_an_svg_is_rendered_to_fit_the_bound_with_its_aspect(tmp_path: Path) -> None:
    path = tmp_path / "wide.svg"
    path.write_text(SVG)
    image = render_svg(path, 300)
    assert image.shape[:2] == (150, 300)
    assert tuple(image[75, 150][:3]) == (0, 0, 255)  # OpenCV's BGR order


@pytest.mark.parametrize("content", ["<svg><rect", "not an svg at all", ""])
def test_a_corrupt_svg_raises_a_value_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "broken.svg"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"broken\.svg"):
        render_svg(path, 300)


def test_a_missing_renderer_raises_a_value_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "wide.svg"
    path.write_text(SVG)
    monkeypatch.setattr(rasterise, "SVG_RENDERER", "/nonexistent/rsvg-convert")
    with pytest.raises(ValueError, match="cannot render"):
        render_svg(path, 300)
