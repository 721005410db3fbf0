"""gd add --links: external files read from their own URL, checked on every get."""

from __future__ import annotations

import contextlib
import functools
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitdata.api import Dataset
from gitdata.ops.context import Context
from tests import spec_reader
from tests.conftest import CLOUDS, cloud_options, cloud_url, make_tree, new_bucket, read_tree


@contextlib.contextmanager
def http_folder(root: Path) -> Iterator[str]:
    """A local HTTP server for ``root`` in a thread; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))

    class Quiet(handler.func):  # type: ignore[name-defined,misc]
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def linked_version(gd, url: str, *extra: str) -> str:
    vid = gd("create", "--project", "p", "--name", "links", "--json").json()["id"]
    gd("add", "--links", url, *extra)
    gd("close")
    return vid


def test_folder_link_is_got_from_its_url(gd, tmp_path: Path):
    remote = make_tree(tmp_path / "bucket" / "data", {"a.csv": "a\n", "sub/b.csv": "bb\n"})
    vid = linked_version(gd, remote.as_uri(), "--dataset-folder", "ext")
    listed = gd("list", "--id", vid, "--json").json()
    assert sorted(f["path"] for f in listed) == ["ext/a.csv", "ext/sub/b.csv"]
    assert {f["path"]: f["url"] for f in listed}["ext/a.csv"] == (remote / "a.csv").as_uri()
    out = tmp_path / "out"
    gd("get", "--id", vid, "--copy", str(out))
    assert read_tree(out) == {"ext/a.csv": b"a\n", "ext/sub/b.csv": b"bb\n"}
    links = Dataset.get(dataset_id=vid).link_entries_dict
    assert links["ext/a.csv"]["url"] == (remote / "a.csv").as_uri()
    assert links["ext/sub/b.csv"]["size"] == 3
    # nothing of the link's content went into the store's chunks
    assert Dataset.get(dataset_id=vid).get_num_chunks() == 0


def test_wildcard_and_non_recursive(gd, tmp_path: Path):
    remote = make_tree(tmp_path / "r", {"a.csv": "a", "b.txt": "b", "sub/c.csv": "c"})
    vid = linked_version(gd, remote.as_uri(), "--wildcard", "*.csv", "--non-recursive")
    assert [f["path"] for f in gd("list", "--id", vid, "--json").json()] == ["a.csv"]


def test_changed_object_fails_the_get_and_writes_nothing(gd, tmp_path: Path):
    remote = make_tree(tmp_path / "r", {"a.csv": "original", "b.csv": "b"})
    vid = linked_version(gd, remote.as_uri())
    (remote / "a.csv").write_text("tampered")
    out = tmp_path / "out"
    r = gd("get", "--id", vid, "--copy", str(out), ok=False)
    assert r.exit_code == 5
    assert "a.csv changed at" in r.stderr and len(r.stderr.strip().splitlines()) <= 2
    assert not out.exists() or not any(out.iterdir())
    cached = gd("get", "--id", vid, ok=False)
    assert cached.exit_code == 5
    (remote / "a.csv").unlink()
    gone = gd("get", "--id", vid, "--copy", str(out), ok=False)
    assert gone.exit_code == 5 and "is gone from" in gone.stderr


def test_bad_or_missing_url_is_one_line_and_changes_nothing(gd, tmp_path: Path):
    remote = make_tree(tmp_path / "r", {"a.csv": "a"})
    vid = gd("create", "--project", "p", "--name", "links", "--json").json()["id"]
    gd("add", "--links", remote.as_uri())
    before = gd("list", "--id", vid, "--json").json()
    missing = gd("add", "--links", (tmp_path / "nope.csv").as_uri(), ok=False)
    assert missing.exit_code == 3 and "does not exist" in missing.stderr
    bad = gd("add", "--links", "ftp://host/x", ok=False)
    assert bad.exit_code == 4 and "not an external file URL" in bad.stderr
    # one good and one missing URL: the good one is not added either
    other = make_tree(tmp_path / "o", {"z.csv": "z"})
    mixed = gd("add", "--links", other.as_uri(), (tmp_path / "nope").as_uri(), ok=False)
    assert mixed.exit_code == 3
    assert gd("list", "--id", vid, "--json").json() == before
    neither = gd("add", ok=False)
    assert neither.exit_code == 2


def test_http_link(gd, tmp_path: Path):
    pytest.importorskip("aiohttp")
    served = make_tree(tmp_path / "www", {"data/x.bin": b"\x00\x01hello", "data/y.bin": "y"})
    with http_folder(served) as base:
        vid = linked_version(gd, f"{base}/data/x.bin", f"{base}/data/y.bin")
        (served / "data" / "y.bin").write_text("Y")  # changed before anything was got
        r = gd("get", "--id", vid, "--copy", str(tmp_path / "out"), ok=False)
        assert r.exit_code == 5 and "y.bin changed at" in r.stderr
        (served / "data" / "y.bin").write_text("y")
        path = Path(gd("get", "--id", vid, "--json").json()["path"])
        assert read_tree(path) == {"x.bin": b"\x00\x01hello", "y.bin": b"y"}
        etag = Dataset.get(dataset_id=vid).link_entries_dict["x.bin"]["etag"]
        assert etag is None or isinstance(etag, str)
        gd("create", "--project", "p", "--name", "folder")
        folder = gd("add", "--links", f"{base}/data/", ok=False)
        assert folder.exit_code == 4 and "single files only" in folder.stderr


def test_link_and_local_file_of_same_content_merge_as_one(gd, tmp_path: Path):
    remote = make_tree(tmp_path / "r", {"a.csv": "same"})
    local = make_tree(tmp_path / "l", {"a.csv": "same"})
    linked = linked_version(gd, remote.as_uri())
    vid = gd("create", "--project", "p", "--name", "links", "--parents", linked, "--json")
    child = vid.json()["id"]
    gd("add", "--files", str(local / "a.csv"))
    gd("close")
    shown = gd("show", "--id", child, "--json").json()
    assert (shown["added"], shown["modified"]) == ([], [])
    # the same content at a new path is stored in a chunk: a link's content is in none
    gd("create", "--project", "p", "--name", "links", "--parents", child)
    gd("add", "--files", str(local / "a.csv"), "--dataset-folder", "copy")
    closed = gd("close", "--json").json()["id"]
    out = tmp_path / "out"
    (remote / "a.csv").unlink()
    gd("get", "--id", closed, "--copy", str(out), "--filter", "copy/*")
    assert read_tree(out) == {"copy/a.csv": b"same"}


def test_the_spec_reader_reads_links(gd, tmp_path: Path):
    remote = make_tree(tmp_path / "r", {"a.csv": "linked"})
    local = make_tree(tmp_path / "l", {"b.csv": "stored"})
    vid = gd("create", "--project", "p", "--name", "links", "--json").json()["id"]
    gd("add", "--links", remote.as_uri(), "--dataset-folder", "ext")
    gd("add", "--files", str(local))
    gd("close")
    store = Path(Dataset.get(dataset_id=vid).storage_url)
    assert spec_reader.read_store(store)[vid] == {"ext/a.csv": b"linked", "b.csv": b"stored"}


def test_verify_remote_checks_links_at_their_urls(gd, tmp_path: Path):
    remote = make_tree(tmp_path / "r", {"a.csv": "abc", "b.csv": "b"})
    vid = linked_version(gd, remote.as_uri())
    ok = gd("verify", "--id", vid, "--remote", "--json").json()
    assert ok["ok"] and ok["remote"]["links"] == 2
    (remote / "a.csv").write_text("xyz")  # same size: only a deep check sees it
    assert gd("verify", "--id", vid, "--remote").exit_code == 0
    deep = gd("verify", "--id", vid, "--remote", "--deep", "--json", ok=False)
    assert deep.exit_code == 9
    assert deep.json()["remote"]["links_changed"] == [f"a.csv ({(remote / 'a.csv').as_uri()})"]
    (remote / "b.csv").unlink()
    cheap = gd("verify", "--id", vid, "--remote", ok=False)
    assert cheap.exit_code == 9 and "b.csv" in cheap.stdout + cheap.stderr


def test_gc_and_delete_leave_linked_objects_alone(gd, tmp_path: Path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)
    remote = make_tree(tmp_path / "r", {"a.csv": "abc"})
    vid = linked_version(gd, remote.as_uri())
    gd("delete", "--id", vid, "--force")
    gd("gc", "--grace", "0")
    assert read_tree(remote) == {"a.csv": b"abc"}


@pytest.mark.parametrize("kind", CLOUDS)
def test_cloud_links(gd, kind: str, request: pytest.FixtureRequest, tmp_path: Path):
    """Links to a folder on each test server (skipped when the servers are not there)."""
    import fsspec

    request.getfixturevalue("storage_servers")
    bucket = new_bucket(kind)
    protocol = {"s3": "s3", "gcs": "gcs", "azure": "az"}[kind]
    fs = fsspec.filesystem(protocol, skip_instance_cache=True, **cloud_options(kind))
    fs.pipe({f"{bucket}/data/a.csv": b"a\n", f"{bucket}/data/sub/b.csv": b"bb\n"})
    url = cloud_url(kind, bucket, "data")
    vid = linked_version(gd, url, "--dataset-folder", "ext")
    links = Dataset.get(dataset_id=vid).link_entries_dict
    assert sorted(links) == ["ext/a.csv", "ext/sub/b.csv"]
    assert links["ext/a.csv"]["url"] == f"{url}/a.csv" and links["ext/a.csv"]["etag"]
    out = tmp_path / "out"
    gd("get", "--id", vid, "--copy", str(out))
    assert read_tree(out) == {"ext/a.csv": b"a\n", "ext/sub/b.csv": b"bb\n"}
    assert gd("verify", "--id", vid, "--remote").exit_code == 0
    fs.pipe({f"{bucket}/data/a.csv": b"A\n"})
    Context().cache.clear()
    changed = gd("get", "--id", vid, "--copy", str(tmp_path / "again"), ok=False)
    assert changed.exit_code == 5 and "a.csv changed at" in changed.stderr
    assert gd("verify", "--id", vid, "--remote", ok=False).exit_code == 9  # the ETag moved


def test_failed_overwrite_keeps_the_tree_that_was_there(gd, tmp_path: Path):
    remote = make_tree(tmp_path / "r", {"a.csv": "one", "b.csv": "two"})
    vid = linked_version(gd, remote.as_uri())
    out = tmp_path / "targets" / "out"
    gd("get", "--id", vid, "--copy", str(out))
    Context().cache.clear()  # the next get reads the links again
    (remote / "b.csv").write_text("TWO")
    r = gd("get", "--id", vid, "--copy", str(out), "--overwrite", ok=False)
    assert r.exit_code == 5 and "b.csv changed at" in r.stderr
    assert read_tree(out) == {"a.csv": b"one", "b.csv": b"two"}
    assert [p.name for p in out.parent.iterdir()] == ["out"]  # no leftovers beside it
