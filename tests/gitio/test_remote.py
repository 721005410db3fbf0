"""Which git remote URLs are on this machine (local paths, file://) and which name a host."""

from __future__ import annotations

import pytest

from gitdata.gitio.remote import remote_is_on_this_machine


@pytest.mark.parametrize(
    "url",
    [
        "/srv/git/repo.git",
        "../repo.git",
        "repo.git",
        "./dir:with-colon/repo.git",
        "file:///srv/git/repo.git",
        "FILE:///srv/git/repo.git",
        "  /srv/git/repo.git\n",
    ],
)
def test_local_remotes(url: str):
    assert remote_is_on_this_machine(url)


@pytest.mark.parametrize(
    "url",
    [
        "git@github.com:team/repo.git",
        "host:repo.git",
        "user@host:/abs/repo.git",
        "ssh://git@host:2222/team/repo.git",
        "ssh://localhost/srv/repo.git",
        "git://host/repo.git",
        "https://github.com/team/repo.git",
        "http://host/repo",
        "codecommit::eu-west-1://repo",
        "[::1]:repo.git",
    ],
)
def test_remotes_on_another_machine(url: str):
    assert not remote_is_on_this_machine(url)
