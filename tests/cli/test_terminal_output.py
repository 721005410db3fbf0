"""What gd writes to a terminal or a pipe: names with control characters are
shown escaped (JSON keeps them exact), and a reader that goes away early
(``gd list | head -1``) ends gd quietly, as it ends git."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from gitdata.cli import output
from gitdata.core.manifest import Manifest
from tests.conftest import make_tree

HOSTILE = [
    "red\x1b[31mALERT\x1b[0m.txt",
    "two\nlines.txt",
    "tab\there.txt",
    "bidi\u202etxt.exe",
]


def _version_with_paths(gd, tmp_path: Path, monkeypatch, paths: list[str]) -> tuple[Path, str]:
    """A closed version whose manifest names ``paths`` (all with one content),
    written into the store the way another tool could write it."""
    store = tmp_path / "store"
    monkeypatch.setenv("GD_STORAGE", str(store))
    src = make_tree(tmp_path / "src", {f"f{i:05d}.txt": "same" for i in range(len(paths))})
    did = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    record = store / "versions" / f"{did}.yaml"
    text = record.read_text()
    old_sha = next(
        ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("manifest:")
    )
    old = Manifest.decode((store / "objects" / old_sha[:2] / old_sha).read_bytes())
    entries = sorted(old, key=lambda e: e.path)
    renamed = [
        type(e)(p, e.size, e.sha256, e.chunk, e.offset, e.length, e.method)
        for e, p in zip(entries, paths, strict=True)
    ]
    data = Manifest(renamed).encode()
    sha = hashlib.sha256(data).hexdigest()
    (store / "objects" / sha[:2]).mkdir(parents=True, exist_ok=True)
    (store / "objects" / sha[:2] / sha).write_bytes(data)
    record.write_text(text.replace(f"manifest: {old_sha}", f"manifest: {sha}"))
    return store, did


def _assert_escaped(text: str) -> None:
    assert "\x1b" not in text and "\u202e" not in text, repr(text)
    assert "red\\x1b[31mALERT\\x1b[0m.txt" in text
    assert "two\\nlines.txt" in text
    assert "tab\\there.txt" in text
    assert "bidi\\u202etxt.exe" in text


def test_list_and_show_escape_control_characters(gd, tmp_path: Path, monkeypatch):
    _, did = _version_with_paths(gd, tmp_path, monkeypatch, HOSTILE)
    listed = gd("list", "--id", did)
    _assert_escaped(listed.stdout)
    # one line per file: a newline or tab in a name cannot split a row
    rows = listed.stdout.splitlines()[1:]
    assert len(rows) == len(HOSTILE) and all(r.count("\t") == 2 for r in rows)
    _assert_escaped(gd("show", "--id", did, "--files").stdout)
    # --json keeps the exact names (JSON escapes them)
    listed_json = gd("list", "--id", did, "--json").stdout
    assert "\x1b" not in listed_json and "\u202e" not in listed_json
    assert sorted(x["path"] for x in json.loads(listed_json)) == sorted(HOSTILE)
    assert sorted(json.loads(gd("show", "--id", did, "--json").stdout)["added"]) == sorted(HOSTILE)


def test_rich_table_escapes_and_reads_no_markup(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    monkeypatch.setattr("sys.stdout", out)
    output.print_table(["path"], [[HOSTILE[0]], ["[bold]not markup[/]"]])
    text = out.getvalue()
    assert "red\\x1b[31mALERT" in text and "\x1b[31mALERT" not in text
    assert "[bold]not markup[/]" in text


def test_reader_closing_the_pipe_ends_gd_quietly(gd, tmp_path: Path, monkeypatch):
    # enough rows that gd is still writing when the reader goes away (> 64 KiB pipe buffer)
    paths = [f"folder/file_{i:06d}.txt" for i in range(4000)]
    _, did = _version_with_paths(gd, tmp_path, monkeypatch, paths)
    for args in (["list", "--id", did], ["list", "--id", did, "--json"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "gitdata", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ),
            cwd=tmp_path,
        )
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline()  # like head -1
        proc.stdout.close()
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
        assert code in (0, 141), (code, err)
        assert err.strip() in ("", "4000 file(s), 20.0 KiB"), err
        assert "BrokenPipe" not in err and "error" not in err
