"""`gd list` on a terminal writes plain aligned rows as they come (no table held
in memory); piped, tab-separated lines as before."""

from __future__ import annotations

import io
from pathlib import Path

from gitdata.cli import output
from tests.conftest import make_tree


def _version(gd, tmp_path: Path, monkeypatch, files: dict[str, str]) -> str:
    monkeypatch.setenv("GD_STORAGE", str(tmp_path / "store"))
    did = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--files", str(make_tree(tmp_path / "src", files)))
    gd("close")
    return did


def test_list_on_a_terminal_writes_aligned_plain_rows(gd, tmp_path: Path, monkeypatch):
    did = _version(gd, tmp_path, monkeypatch, {"a.txt": "x", "deep/longer_name.bin": "y" * 2000})
    monkeypatch.setattr(output, "stdout_is_tty", lambda: True)
    lines = gd("list", "--id", did).stdout.splitlines()
    assert lines[0].split() == ["path", "size", "sha256"]
    assert "\t" not in "".join(lines) and "│" not in "".join(lines) and "━" not in lines[1]
    assert [ln.split()[0] for ln in lines[1:]] == ["a.txt", "deep/longer_name.bin"]
    # sizes are right-aligned and the sha256 column starts at one place on every row
    starts = {ln.rindex(ln.split()[-1]) for ln in lines}
    assert len(starts) == 1
    assert lines[1].split("  ")[-2].strip() == "1 B"


def test_stream_rows_writes_past_the_first_page_as_rows_come(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr(output, "PAGE", 2)
    seen: list[int] = []

    def rows():
        for i in range(5):
            seen.append(i)
            if i == 3:  # the first page and its header are already out
                assert out.getvalue().count("\n") == 3
            yield [f"f{i}", "red\x1b[31m"]

    output.stream_rows(["path", "x"], rows())
    text = out.getvalue()
    assert seen == [0, 1, 2, 3, 4] and text.count("\n") == 6
    assert "\x1b" not in text and "red\\x1b[31m" in text
