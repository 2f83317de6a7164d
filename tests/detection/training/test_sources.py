"""The detector's permitted sources and their split by hashed source group (issue 19: gnome)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.training import sources
from detection.training.sources import SourceImage, group_of_name, list_sources, split_of

GNOME = Path("/usr/share/backgrounds/gnome")
SEED = 1234
# The held-out groups of the directories used before gnome-backgrounds, as they were when
# multitask-v3 was calibrated and tested: adding a source directory must not move any of them.
OLDER_CALIBRATION_GROUPS = {
    *("desktop-base:emerald-theme", "desktop-base:joy-theme", "desktop-base:lines-theme"),
    *("file:aloe", "file:blender_suzanne", "file:butterfly", "file:ellipses", "file:flow"),
    *("file:fruits", "file:happyfish", "file:spring", "file:waves"),
    *("skimage:chelsea", "skimage:retina"),
}
OLDER_TEST_GROUPS = {
    *("file:home", "file:leuven", "file:raindrops", "file:silk", "file:stuff", "file:wood"),
    *("skimage:cell", "skimage:colorwheel"),
}
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300">'
    '<rect width="400" height="300" fill="#204080"/>'
    '<circle cx="200" cy="150" r="90" fill="#e0c040"/>'
    "</svg>"
)

needs_gnome = pytest.mark.skipif(not GNOME.is_dir(), reason="gnome-backgrounds is not installed")


def _groups_by_split(listed: list[SourceImage]) -> dict[str, set[str]]:
    by_split: dict[str, set[str]] = {"train": set(), "calibration": set(), "test": set()}
    for source in listed:
        by_split[split_of(source.group, SEED)].add(source.group)
    return by_split


def test_light_and_dark_variants_of_a_gnome_design_are_one_group() -> None:
    assert group_of_name(str(GNOME / "adwaita-l.webp")) == group_of_name(
        str(GNOME / "adwaita-d.webp")
    )
    assert group_of_name(str(GNOME / "blobs-l.svg")) == "gnome:blobs"
    assert group_of_name(str(GNOME / "oceans.svg")) == "gnome:oceans"
    # A gnome design never joins an older group of the same name (MATE has a "wood" too).
    assert group_of_name(str(GNOME / "wood-l.webp")) != group_of_name(
        "/usr/share/backgrounds/mate/nature/Wood.jpg"
    )


@needs_gnome
def test_gnome_sources_are_listed_with_their_variants_in_one_split() -> None:
    gnome = [source for source in list_sources() if Path(source.name).parent == GNOME]
    names = {Path(source.name).name for source in gnome}
    assert {"adwaita-l.webp", "adwaita-d.webp", "blobs-d.svg", "oceans.svg"} <= names
    assert not any(name.startswith("vnc-") for name in names)  # flat tiles, not pictures
    splits_of_design: dict[str, set[str]] = {}
    for source in gnome:
        design = Path(source.name).stem.removesuffix("-l").removesuffix("-d")
        splits_of_design.setdefault(design, set()).add(split_of(source.group, SEED))
    assert all(len(splits) == 1 for splits in splits_of_design.values()), splits_of_design


@needs_gnome
def test_splits_are_disjoint_and_the_older_held_out_groups_did_not_move() -> None:
    listed = list_sources()
    assert len({source.name for source in listed}) == len(listed)
    by_split = _groups_by_split(listed)
    assert not by_split["train"] & by_split["calibration"]
    assert not by_split["train"] & by_split["test"]
    assert not by_split["calibration"] & by_split["test"]
    older = [source for source in listed if not source.group.startswith("gnome:")]
    older_by_split = _groups_by_split(older)
    assert older_by_split["calibration"] == OLDER_CALIBRATION_GROUPS
    assert older_by_split["test"] == OLDER_TEST_GROUPS


def test_only_gnome_is_read_as_webp_and_svg_and_forbidden_packages_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gnome, mate = tmp_path / "gnome", tmp_path / "mate"
    forbidden = gnome / "plasma-workspace-wallpapers"
    for folder in (gnome, mate, forbidden):
        folder.mkdir(parents=True)
    picture = np.full((300, 300, 3), 90, np.uint8)
    for path in (gnome / "a-l.webp", mate / "b.webp", mate / "c.png", forbidden / "d.png"):
        assert cv2.imwrite(str(path), picture)
    (gnome / "e.svg").write_text(SVG)
    (mate / "f.svg").write_text(SVG)
    monkeypatch.setattr(
        sources,
        "SOURCE_DIRS",
        {mate: sources.PHOTO_SUFFIXES, gnome: (*sources.PHOTO_SUFFIXES, ".webp", ".svg")},
    )
    listed = {Path(source.name).name for source in sources._file_sources()}
    assert listed == {"c.png", "a-l.webp", "e.svg"}


def test_an_svg_source_is_rasterised_within_the_size_bound(tmp_path: Path) -> None:
    path = tmp_path / "gnome" / "shapes-l.svg"
    path.parent.mkdir()
    path.write_text(SVG)
    image = sources._load_file(path)
    assert image.dtype == np.uint8 and image.shape == (1200, 1600, 3)
    assert tuple(image[600, 800]) == (0xE0, 0xC0, 0x40)  # RGB, not OpenCV's BGR
    assert tuple(image[10, 10]) == (0x20, 0x40, 0x80)


def test_a_corrupt_svg_is_skipped_by_the_split_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gnome = tmp_path / "gnome"
    gnome.mkdir()
    (gnome / "broken-d.svg").write_text("<svg><rect")
    assert cv2.imwrite(str(gnome / "fine-l.png"), np.full((300, 300, 3), 90, np.uint8))
    monkeypatch.setattr(sources, "SOURCE_DIRS", {gnome: (".png", ".svg")})
    monkeypatch.setattr(sources, "_library_sources", list)
    loaded = [
        name
        for split in ("train", "calibration", "test")
        for name, _ in sources.load_split(split, SEED)
    ]
    assert [Path(name).name for name in loaded] == ["fine-l.png"]
