from __future__ import annotations

from pathlib import Path

import pytest

from gitdata.config import DEFAULT_CACHE_SIZE, parse_size, resolve_settings
from gitdata.errors import FormatError, InvalidInputError


def test_defaults_follow_xdg(isolated_env: Path):
    s = resolve_settings()
    assert s.storage == str(isolated_env / ".local/share/gitdata/store")
    assert s.cache_dir == isolated_env / ".cache/gitdata"
    assert s.cache_size_limit == DEFAULT_CACHE_SIZE
    assert s.sources["storage"] == "default"


def test_precedence_flag_env_repo_user(tmp_path: Path, monkeypatch, isolated_env: Path):
    user_cfg = isolated_env / ".config/gitdata/config.yaml"
    user_cfg.parent.mkdir(parents=True)
    user_cfg.write_text("storage: /user/store\ncache_size: 1GB\n")
    assert resolve_settings().storage == "/user/store"
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".gitdata").mkdir()
    (repo / ".gitdata/config.yaml").write_text("storage: ../shared-store\nchunk_size_mb: 8\n")
    monkeypatch.chdir(repo)
    s = resolve_settings()
    assert s.storage == str((tmp_path / "shared-store").resolve())
    assert s.chunk_size == 8 * 1024 * 1024 and s.cache_size_limit == 10**9
    monkeypatch.setenv("GD_STORAGE", "/env/store")
    monkeypatch.setenv("GD_CACHE_DIR", str(tmp_path / "c"))
    s = resolve_settings()
    assert s.storage == "/env/store" and s.cache_dir == tmp_path / "c"
    assert resolve_settings(storage="s3://bucket/x").storage == "s3://bucket/x"


def test_malformed_config_names_file(tmp_path: Path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".gitdata").mkdir()
    (repo / ".gitdata/config.yaml").write_text("storage: [oops\n")
    monkeypatch.chdir(repo)
    with pytest.raises(FormatError) as info:
        resolve_settings()
    assert "config.yaml" in str(info.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [("10GB", 10**10), ("512MiB", 512 * 2**20), ("1000", 1000), ("unlimited", None), (0, 0)],
)
def test_parse_size(text, value):
    assert parse_size(text) == value


def test_parse_size_rejects_garbage():
    with pytest.raises(InvalidInputError):
        parse_size("lots")


def _repo_with_config(tmp_path: Path, text: str) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".gitdata").mkdir()
    (repo / ".gitdata/config.yaml").write_text(text)
    return repo


@pytest.mark.parametrize("key", ["cache_dir", "state_dir"])
def test_committed_config_may_not_name_local_folders(tmp_path: Path, monkeypatch, key: str):
    # a cloned repository must not point gd at a folder it then writes and deletes in
    repo = _repo_with_config(tmp_path, f"storage: ../store\n{key}: {tmp_path / 'victim'}\n")
    monkeypatch.chdir(repo)
    with pytest.raises(FormatError) as info:
        resolve_settings()
    message = str(info.value)
    assert str(repo / ".gitdata/config.yaml") in message and key in message
    assert "\n" not in message
    assert info.value.hint and "~/.config/gitdata/config.yaml" in info.value.hint
    # the environment does not make the committed key acceptable
    monkeypatch.setenv("GD_CACHE_DIR", str(tmp_path / "c"))
    with pytest.raises(FormatError):
        resolve_settings()
    assert not (tmp_path / "victim").exists()


def test_cache_dir_from_user_config_env_and_flag(tmp_path: Path, monkeypatch, isolated_env: Path):
    user_cfg = isolated_env / ".config/gitdata/config.yaml"
    user_cfg.parent.mkdir(parents=True)
    user_cfg.write_text(f"cache_dir: {tmp_path / 'user-cache'}\n")
    monkeypatch.chdir(_repo_with_config(tmp_path, "chunk_size_mb: 8\n"))
    s = resolve_settings()
    assert s.cache_dir == tmp_path / "user-cache" and s.sources["cache_dir"] == str(user_cfg)
    monkeypatch.setenv("GD_CACHE_DIR", str(tmp_path / "env-cache"))
    assert resolve_settings().cache_dir == tmp_path / "env-cache"
    assert resolve_settings(cache_dir=tmp_path / "flag").cache_dir == tmp_path / "flag"
