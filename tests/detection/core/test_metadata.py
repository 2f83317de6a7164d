import io

import numpy as np
from PIL import Image

from detection.core.metadata import MAX_TEXT_LENGTH, c2pa_summary, exif_summary


def _jpeg(exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(np.full((16, 16, 3), 90, np.uint8))
    image.save(buffer, "JPEG", exif=exif if exif is not None else Image.Exif())
    return buffer.getvalue()


def test_exif_summary_reads_camera_fields_and_gps_presence_only() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "X" * 1000  # absurdly long model string is bounded
    exif[0x0131] = "GIMP 2.10"
    exif[0x0112] = 6
    exif.get_ifd(0x8825)[2] = (35.0, 41.0, 0.0)
    summary = exif_summary(_jpeg(exif))
    assert summary["make"] == "Canon" and summary["software"] == "GIMP 2.10"
    assert summary["orientation"] == 6 and summary["has_gps"] is True
    assert len(summary["model"]) == MAX_TEXT_LENGTH
    assert "35" not in str(summary)  # coordinates are not copied into the report


def test_exif_summary_empty_and_broken_inputs(tmp_path) -> None:
    assert exif_summary(_jpeg()) == {}
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"not an image")
    assert "error" in exif_summary(path)


def test_c2pa_absent_manifest_is_none() -> None:
    assert c2pa_summary(_jpeg()) is None


def test_c2pa_malformed_input_is_an_error_state() -> None:
    truncated = _jpeg()[:40]
    state = c2pa_summary(truncated)
    assert state is not None and state["state"] == "error" and state["error"]
    garbage = c2pa_summary(b"garbage bytes")
    assert garbage is not None and garbage["state"] == "error"
