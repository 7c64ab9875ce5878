"""The admin's Import page: upload, dry-run report, confirm, result; size limit; downloads."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from support.imports import comments, counts_are_consistent, fixture

from commentsvc.transfer import jobs

# Small (the test client spools a larger upload to a temporary file it never closes).
SMALL = "isso-comments-isso__isso-tests-wordpress.xml"
JOB_URL = re.compile(r"/admin/import/([A-Za-z0-9_-]+)$")


def jobs_folder_of(app, url: str) -> Path:
    match = JOB_URL.search(url)
    assert match
    return Path(app.instance_path) / "imports" / match.group(1)


def upload(admin, path: Path, **fields: str):
    data = {"file": (io.BytesIO(path.read_bytes()), path.name), **fields}
    return admin.client.post(
        "/admin/import",
        data={"csrf_token": admin.token("/admin/import"), **data},
        content_type="multipart/form-data",
    )


def wait_for(admin, url: str, phases: tuple[str, ...]) -> str:
    deadline = time.monotonic() + 60
    while True:
        html = admin.page(url)
        if not any(word in html for word in ("Checking the file", "Importing…")):
            return html
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.1)


def test_upload_dry_run_confirm_and_result(app, admin) -> None:
    response = upload(admin, fixture(SMALL))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    url = response.headers["Location"]
    assert JOB_URL.search(url)
    dry = wait_for(admin, url, ("checked",))
    assert "Dry run: what the import would do" in dry
    assert "Comments would be imported: 8 (8 approved)" in dry
    with app.app_context():
        assert comments() == []

    confirmed = admin.post(url + "/confirm")
    assert confirmed.status_code == 302
    done = wait_for(admin, url, ("done",))
    assert "Comments imported: 8 (8 approved)" in done
    assert not (jobs_folder_of(app, url) / "upload").exists()  # emails not kept on disk
    with app.app_context():
        assert len(comments()) == 8
        counts_are_consistent()
    # A second confirmation (a double click, another moderator) starts nothing.
    admin.post(url + "/confirm")
    with app.app_context():
        assert len(comments()) == 8
    assert "import" in admin.page("/admin/log")


def test_a_large_file_is_imported_outside_the_request(app, admin, monkeypatch) -> None:
    monkeypatch.setattr(jobs, "IN_REQUEST_BYTES", 100)
    response = upload(admin, fixture(SMALL))
    url = response.headers["Location"]
    assert "Comments would be imported: 8 (8 approved)" in wait_for(admin, url, ("checked",))
    admin.post(url + "/confirm")
    assert "Comments imported: 8 (8 approved)" in wait_for(admin, url, ("done",))


def test_a_broken_file_shows_the_error(admin) -> None:
    name = "ray5273-comentario__cypress-fixtures-import-comentario-bad-version.json.gz"
    response = upload(admin, fixture(name))
    html = wait_for(admin, response.headers["Location"], ("failed",))
    assert "Unsupported version 481" in html


def test_a_refusal_names_the_import_pages_own_fields(admin) -> None:
    """The reader's advice must be something a moderator can do here, not only a CLI flag."""
    blogger = upload(admin, fixture("getpelican-pelican__pelican-tests-content-bloggerexport.xml"))
    html = wait_for(admin, blogger.headers["Location"], ("failed",))
    assert "neither a WordPress (WXR) nor a Disqus export" in html
    assert "Format on the admin&#39;s Import page" in html

    paths_only = upload(admin, fixture("isso-comments-isso__isso-tests-generic.json"))
    html = wait_for(admin, paths_only.headers["Location"], ("failed",))
    assert "names its articles by path only (/posts/0001/)" in html
    assert "Site address on the admin&#39;s Import page" in html
    # Given there, the same file is read.
    site = upload(
        admin,
        fixture("isso-comments-isso__isso-tests-generic.json"),
        site_url="https://blog.example",
    )
    html = wait_for(admin, site.headers["Location"], ("checked",))
    assert "Comments would be imported: 2 (2 approved)" in html


@pytest.mark.settings(IMPORT_UPLOAD_MB=1)
def test_a_file_over_the_upload_limit_is_refused_with_the_reason(admin) -> None:
    body = b"--x\r\n" + b" " * (3 * 1024 * 1024)
    response = admin.client.post(
        "/admin/import", data=body, content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code == 413
    assert "larger than 1 MB" in response.get_data(as_text=True)


def test_an_unknown_job_is_404(admin) -> None:
    admin.page("/admin/import/../../etc", expect=404)
    admin.page("/admin/import/" + "x" * 24, expect=404)


def test_export_downloads(app, admin) -> None:
    upload_response = upload(admin, fixture(SMALL))
    url = upload_response.headers["Location"]
    wait_for(admin, url, ("checked",))
    admin.post(url + "/confirm")
    wait_for(admin, url, ("done",))
    plain = admin.client.get("/admin/export?format=json")
    assert plain.status_code == 200
    document = json.loads(plain.get_data(as_text=True))
    assert sum(len(a["comments"]) for a in document["articles"]) == 8
    assert '"email"' not in plain.get_data(as_text=True)
    private = admin.client.get("/admin/export?format=json&private=1").get_data(as_text=True)
    assert '"email"' in private
    wxr = admin.client.get("/admin/export?format=wxr").get_data(as_text=True)
    assert wxr.count("<wp:comment>") == 8
    assert admin.client.get("/admin/export?format=csv").status_code == 400


def test_the_pages_need_a_moderator(client) -> None:
    assert client.get("/admin/import").status_code == 302
    assert client.get("/admin/export").status_code == 302
    assert client.post("/admin/import").status_code in (400, 401)  # CSRF refuses it first
