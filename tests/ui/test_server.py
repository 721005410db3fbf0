"""The UI server over a real store: routes, read-only, escaping, loopback only."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlsplit

import pytest

from gitdata.ui.server import host_name, is_loopback
from tests.ui.conftest import HOSTILE


def request(url: str, path: str, method: str = "GET", headers: dict | None = None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(method, path, headers=headers or {})
    r = conn.getresponse()
    body = r.read().decode("utf-8", "replace")
    conn.close()
    return r.status, dict(r.getheaders()), body


def test_dataset_list_and_search(ui_url, history) -> None:
    status, headers, body = request(ui_url, "/")
    assert status == 200
    assert "vision" in body and "cats" in body and "cats-flat" in body and "many" in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    _, _, found = request(ui_url, "/?q=merged")  # a tag of one version of vision/cats
    assert "cats" in found and "many" not in found
    _, _, none = request(ui_url, "/?q=nothing-matches-this")
    assert "0 dataset(s)" in none


def test_version_page_shows_identity_lineage_summary_and_files(ui_url, history) -> None:
    status, _, body = request(ui_url, f"/version/{history.merge}")
    assert status == 200
    assert history.merge in body
    for parent in (history.v2, history.branch):  # both parents, linked
        assert f'href="/version/{parent}"' in body
    assert "<svg" in body and 'class="node current"' in body
    assert "images/c.png" in body  # the listing's first page
    assert 'id="summary"' in body and 'id="history"' in body


def test_file_listing_pages_and_filters_server_side(ui_url, history) -> None:
    _, _, first = request(ui_url, f"/version/{history.many}/files")
    rows = re.findall(r'class="mono path">([^<]+)<', first)
    assert len(rows) == 100 and rows[0] == "part00/f0000.txt"
    assert "page 1 of 5" in first
    _, _, third = request(ui_url, f"/version/{history.many}/files?page=3")
    assert re.findall(r'class="mono path">([^<]+)<', third)[0] == "part02/f0200.txt"
    _, _, glob = request(ui_url, f"/version/{history.many}/files?q=part04/*")
    assert "50 file(s)" in glob
    _, _, sub = request(ui_url, f"/version/{history.many}/files?q=f0449")
    assert re.findall(r'class="mono path">([^<]+)<', sub) == ["part04/f0449.txt"]


def test_compare_page(ui_url, history) -> None:
    status, _, body = request(ui_url, f"/compare?source={history.v1}&target={history.v2}")
    assert status == 200
    assert "1 added, 0 modified, 0 removed, 1 renamed" in body  # labels/a.txt -> b.txt
    assert "images/c.png" in body and "labels/a.txt" in body


def test_hostile_strings_are_text(ui_url, history) -> None:
    for path in ("/", f"/version/{history.hostile}", f"/version/{history.hostile}/files"):
        _, _, body = request(ui_url, path)
        assert "<script>" not in body and "<img src=x" not in body, path
        assert "<b onmouseover" not in body and "<i>x" not in body, path
        shown = "&lt;i&gt;x&lt;i&gt;.txt" if path.endswith("/files") else "&lt;script&gt;"
        assert shown in body, path
    assert HOSTILE  # the fixture's description holds markup


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_reads(ui_url, history, method) -> None:
    status, headers, _ = request(ui_url, "/", method=method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/version/../../etc/passwd",
        "/version/%2e%2e/%2e%2e/etc/passwd",
        "/static/../gitdata-store.yaml",
        "/version/ZZZ",
        "/version/" + "a" * 33,
        "//etc/passwd",
    ],
)
def test_paths_outside_the_routes_are_404(ui_url, history, path) -> None:
    status, _, body = request(ui_url, path)
    assert status == 404
    assert "root:" not in body


def test_unknown_version_is_404_and_bad_compare_400(ui_url, history) -> None:
    assert request(ui_url, "/version/" + "0" * 32)[0] == 404
    assert request(ui_url, "/compare?source=x&target=y")[0] == 400
    assert request(ui_url, f"/version/{history.many}/files?page=abc")[0] == 400


def test_odd_requests_get_an_answer(ui_url, history) -> None:
    many = "&".join(f"k{i}=v" for i in range(50))
    assert request(ui_url, f"/?{many}")[0] == 400
    assert request(ui_url, "/?q=" + "x" * 5000)[0] == 200  # a long search finds nothing
    assert request(ui_url, "/?q=%ff%fe")[0] == 200  # not UTF-8: replaced, not a crash
    assert request(ui_url, f"/version/{history.many}/files?page=99999")[0] == 200  # last page
    status, _, body = request(ui_url, "/", method="HEAD")
    assert status == 200 and body == ""


def test_foreign_host_header_is_refused(ui_url, history) -> None:
    # a DNS-rebinding page would send its own host name
    assert request(ui_url, "/", headers={"Host": "evil.example:8470"})[0] == 421
    assert request(ui_url, "/", headers={"Host": "localhost:8470"})[0] == 200


def test_host_parsing() -> None:
    assert host_name("[::1]:8000") == "::1" and host_name("127.0.0.1:1") == "127.0.0.1"
    assert host_name("localhost") == "localhost"
    assert is_loopback("::1") and is_loopback("127.0.0.2") and not is_loopback("10.0.0.1")
