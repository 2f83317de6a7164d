"""Verified originals: the add_references command, the API, and the indexes they keep in sync."""

import io
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image
from rest_framework.test import APIClient
from skimage import data as samples

from accounts.models import AuditLog
from factcheck.core.fingerprints import pdq_dihedral_hashes
from factcheck.core.index import PdqIndex
from factcheck.core.index_store import read_manifest
from factcheck.core.layered import LayeredPdqIndex
from factcheck.indexing import PDQ_INDEX, index_dir, index_reader
from factcheck.models import Fingerprint, Reference
from mediastore.models import MediaObject

# Index updates run on commit, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def encode(pixels: np.ndarray, image_format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format, quality=92)
    return buffer.getvalue()


@pytest.fixture
def photos() -> dict[str, bytes]:
    return {
        "astronaut": encode(samples.astronaut()),
        "coffee": encode(samples.coffee()),
        "chelsea": encode(samples.chelsea(), "PNG"),
    }


def indexed_count() -> int:
    manifest = read_manifest(index_dir(), PDQ_INDEX)
    return manifest.count if manifest else 0


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_add_references_walks_folders_skips_bad_files_and_is_idempotent(tmp_path, photos) -> None:
    folder = tmp_path / "originals" / "nested"
    folder.mkdir(parents=True)
    (folder / "astronaut.jpg").write_bytes(photos["astronaut"])
    (tmp_path / "originals" / "coffee.jpg").write_bytes(photos["coffee"])
    (folder / "broken.jpg").write_bytes(photos["coffee"][:500])
    (folder / "notes.txt").write_text("not an image")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="2 of 4 files skipped"):
        call_command(
            "add_references", str(tmp_path / "originals"), "--source", "AP", stdout=out, stderr=err
        )
    assert "2 added, 0 already present, 2 skipped" in out.getvalue()
    assert "broken.jpg" in err.getvalue() and "notes.txt" in err.getvalue()
    assert set(Reference.objects.values_list("external_id", "source")) == {
        ("astronaut", "AP"),
        ("coffee", "AP"),
    }
    assert indexed_count() == 2
    out = StringIO()
    with pytest.raises(CommandError, match="2 of 4 files skipped"):
        call_command("add_references", str(tmp_path / "originals"), stdout=out, stderr=StringIO())
    assert "0 added, 2 already present, 2 skipped" in out.getvalue()
    assert Reference.objects.count() == 2


def test_add_references_refuses_a_missing_path(tmp_path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("add_references", str(tmp_path / "missing"))


def test_indexed_reference_is_found_by_a_recompressed_copy(personas, photos) -> None:
    response = api_as(personas["fact_checker"]).post(
        "/api/v1/references/",
        {"media": io.BytesIO(photos["astronaut"]), "source": "NASA", "external_id": "s1"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    reference_id = response.json()["id"]
    copy = np.asarray(Image.open(io.BytesIO(photos["astronaut"])).resize((300, 300)))
    hashes, _ = pdq_dihedral_hashes(copy)
    index = index_reader(PDQ_INDEX).get()
    assert isinstance(index, PdqIndex | LayeredPdqIndex)
    ids, distances = index.search(hashes, 1)
    best = int(np.argmin(distances[:, 0]))
    assert ids[best, 0] == reference_id
    assert distances[best, 0] < 40


def test_api_add_is_idempotent_and_audited(personas, photos) -> None:
    api = api_as(personas["fact_checker"])
    payload = {"source": "AFP", "credit": "Jane Doe", "published_at": "2024-05-01"}
    first = api.post("/api/v1/references/", {**payload, "media": io.BytesIO(photos["coffee"])})
    second = api.post("/api/v1/references/", {**payload, "media": io.BytesIO(photos["coffee"])})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["media"]["width"] == 600
    assert AuditLog.objects.filter(action="reference.add").count() == 1


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "empty"), (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not_an_image")],
)
def test_api_rejects_bad_images_and_stores_nothing(personas, content: bytes, code: str) -> None:
    response = api_as(personas["fact_checker"]).post(
        "/api/v1/references/", {"media": io.BytesIO(content), "source": "AFP"}
    )
    assert response.status_code == 400
    if content:
        assert response.json()["code"] == code
    assert not MediaObject.objects.exists() and not Reference.objects.exists()


def test_api_rejects_animated_originals(personas) -> None:
    frames = [Image.new("RGB", (32, 32), color) for color in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    response = api_as(personas["fact_checker"]).post(
        "/api/v1/references/", {"media": io.BytesIO(buffer.getvalue()), "source": "AFP"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "animated"


def test_delete_removes_the_reference_from_the_index(personas, photos) -> None:
    api = api_as(personas["fact_checker"])
    ids = [
        api.post("/api/v1/references/", {"media": io.BytesIO(content), "source": "AP"}).json()["id"]
        for content in photos.values()
    ]
    assert indexed_count() == 3
    assert api.delete(f"/api/v1/references/{ids[0]}/").status_code == 204
    assert indexed_count() == 2
    assert not Fingerprint.objects.filter(reference_id=ids[0]).exists()
    assert AuditLog.objects.filter(action="reference.remove", target_id=str(ids[0])).exists()
    out = StringIO()
    call_command("rebuild_index", stdout=out)
    assert "pdq: version" in out.getvalue() and "2 entries" in out.getvalue()


def test_access_by_role(personas, photos) -> None:
    created = api_as(personas["fact_checker"]).post(
        "/api/v1/references/", {"media": io.BytesIO(photos["coffee"]), "source": "AP"}
    )
    reference_url = f"/api/v1/references/{created.json()['id']}/"
    moderator = api_as(personas["moderator"])
    assert moderator.get("/api/v1/references/").json()["count"] == 1
    assert moderator.get(reference_url).status_code == 200
    upload = {"media": io.BytesIO(photos["astronaut"]), "source": "AP"}
    assert moderator.post("/api/v1/references/", upload).status_code == 403
    assert moderator.delete(reference_url).status_code == 403
    outsider = api_as(personas["outsider"])
    assert outsider.get("/api/v1/references/").status_code == 403
    assert APIClient().get("/api/v1/references/").status_code in (401, 403)
    assert Reference.objects.count() == 1
