"""Settings resolution, in one place.

Precedence (highest first): explicit arguments (CLI flags) > environment
(``GD_STORAGE``, ``GD_CACHE_DIR``, ``GD_CACHE_SIZE``, ``GD_RETRIES``,
``GD_CREATE_BUCKET``, ``GD_ALLOW_LOCAL_STORE``, ``GD_LOCK_STALE``) > the repository's
``.gitdata/config.yaml`` > the user's ``$XDG_CONFIG_HOME/gitdata/config.yaml``
> built-in defaults (the embedded store ``$XDG_DATA_HOME/gitdata/store``).

The repository's config is committed, so anyone who can push to the
repository writes it: it may not hold secrets (``storage_options``) nor name
the local folders gd writes and deletes in (``cache_dir``, ``state_dir``).
Those come from flags, the environment or the user's config only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitdata.codec import load_yaml_mapping
from gitdata.errors import FormatError, InvalidInputError

REPO_DIR = ".gitdata"
REPO_CONFIG = f"{REPO_DIR}/config.yaml"
DEFAULT_CHUNK_MB = 64
DEFAULT_CACHE_SIZE = 50 * 1024**3
_COMPRESSIONS = ("stored", "deflate")
DEFAULT_RETRIES = 3
# seconds after its last refresh that a store lock stops counting (docs/format.md §11)
DEFAULT_LOCK_STALE = 30 * 60
# storage_options keys that hold secrets: refused in the committed repo config
_SECRET_OPTION = re.compile(
    r"secret|password|passwd|token|account_key|connection_string|sas|credential|^key$"
)
DEFAULT_HOOKS = {"offline": "warn", "bound_folders": "update"}
_HOOK_CHOICES = {"offline": ("warn", "refuse"), "bound_folders": ("update", "warn")}
_ALLOW_LOCAL = "allow_local_store"
# local folders gd writes and deletes in: never taken from the committed repo config
_LOCAL_FOLDER_KEYS = {
    "cache_dir": "GD_CACHE_DIR",
    "state_dir": "XDG_STATE_HOME",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass
class Settings:
    """Resolved settings for one command; ``sources`` says where each came from."""

    storage: str
    storage_options: dict[str, Any]
    cache_dir: Path
    state_dir: Path
    cache_size_limit: int | None
    chunk_size: int
    compression: str
    repo_root: Path | None
    sources: dict[str, str] = field(default_factory=dict)
    # hooks.offline: "warn" (default) or "refuse" when pre-commit cannot reach the store;
    # hooks.bound_folders: "update" (default) or "warn" after checkout / merge.
    hooks: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_HOOKS))
    # retries of a failed store request (transient errors and throttling only)
    retries: int = DEFAULT_RETRIES
    # create a missing bucket / container instead of failing (--create-bucket)
    create_bucket: bool = False
    # hooks.allow_local_store / GD_ALLOW_LOCAL_STORE: pre-push lets pointers into a
    # local-path store go to a remote on another machine (the path is shared, e.g. NFS)
    allow_local_store: bool = False
    # lock_stale / GD_LOCK_STALE: the stale time this process writes into its store
    # locks (seconds); it refreshes them six times as often
    lock_stale: int = DEFAULT_LOCK_STALE


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def user_config_path() -> Path:
    """``$XDG_CONFIG_HOME/gitdata/config.yaml`` (default ~/.config)."""
    return _xdg("XDG_CONFIG_HOME", ".config") / "gitdata" / "config.yaml"


def default_store_path() -> Path:
    """The embedded default store: ``$XDG_DATA_HOME/gitdata/store``."""
    return _xdg("XDG_DATA_HOME", ".local/share") / "gitdata" / "store"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gitdata`` (default ~/.cache/gitdata)."""
    return _xdg("XDG_CACHE_HOME", ".cache") / "gitdata"


def default_state_dir() -> Path:
    """Drafts and the current-dataset marker: ``$XDG_STATE_HOME/gitdata``."""
    return _xdg("XDG_STATE_HOME", ".local/state") / "gitdata"


def find_repo_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` holding ``.git`` (file or folder)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def human_size(n: int) -> str:
    """1536 -> '1.5 KiB' (the sizes gd shows; :func:`parse_size` reads them back)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def parse_size(value: object, what: str = "size") -> int | None:
    """Parse ``10GB``, ``512MiB``, ``1000`` (bytes) or ``none``/``unlimited``."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InvalidInputError(f"{what} must not be negative")
        return value
    text = str(value).strip().lower().replace(" ", "")
    if text in ("none", "unlimited", "0", ""):
        return None if text != "0" else 0
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kmgt]?i?b?)?", text)
    if not m:
        raise InvalidInputError(
            f"cannot read {what} {value!r}", hint="use e.g. 20GB, 512MiB or 1000"
        )
    unit = (m[2] or "").rstrip("b")
    factor = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
    factor.update({"ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40})
    return int(float(m[1]) * factor[unit])


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise FormatError(f"cannot read config {path}: {exc.strerror}", file=str(path)) from None
    return load_yaml_mapping(text, str(path))


def _storage_options(
    repo_cfg: dict[str, Any], user_cfg: dict[str, Any], repo_root: Path | None, sources: dict
) -> dict[str, Any]:
    """The user's storage_options with the repository's on top (key by key).

    The repository config is committed, so a secret in it is refused: secrets
    belong in the user config or in the cloud's own environment variables.
    """
    merged: dict[str, Any] = {}
    for cfg, where in (
        (user_cfg, str(user_config_path())),
        (repo_cfg, f"{repo_root}/{REPO_CONFIG}"),
    ):
        options = cfg.get("storage_options")
        if options is None:
            continue
        if not isinstance(options, dict):
            raise FormatError("'storage_options' must be a mapping", file=where)
        if cfg is repo_cfg:
            leaked = _secret_keys(options)
            if leaked:
                raise FormatError(
                    f"{where} holds a secret in storage_options ({', '.join(leaked)}); "
                    "this file is committed to git",
                    file=where,
                    hint=f"move it to {user_config_path()} or the cloud's environment "
                    "variables (see docs/storage.md)",
                )
        merged.update(options)
        sources["storage_options"] = where
    return merged


def _secret_keys(options: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in options.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found += _secret_keys(value, f"{name}.")
        elif value not in (None, "", False) and _SECRET_OPTION.search(str(key).lower()):
            if str(key).lower() == "token" and value in ("anon", "google_default", "cloud"):
                continue  # a credential method, not a credential
            found.append(name)
    return found


def _refuse_local_folders(repo_cfg: dict[str, Any], repo_root: Path | None) -> None:
    """A committed config naming a local folder gd writes or deletes in is refused."""
    for key, env_var in _LOCAL_FOLDER_KEYS.items():
        if key in repo_cfg and repo_root is not None:
            where = f"{repo_root}/{REPO_CONFIG}"
            raise FormatError(
                f"{where} sets {key}: a committed config may not choose a local folder "
                "gd writes and deletes in",
                file=where,
                key=key,
                hint=f"remove it there; put it in ~/.config/gitdata/config.yaml "
                f"({user_config_path()}) or set {env_var}",
            )


def _allow_local_store(
    repo_cfg: dict[str, Any], user_cfg: dict[str, Any], repo_root: Path | None, sources: dict
) -> bool:
    """``GD_ALLOW_LOCAL_STORE`` > the repo's ``hooks.allow_local_store`` > the user's."""
    raw = os.environ.get("GD_ALLOW_LOCAL_STORE", "").strip().lower()
    if raw:
        if raw not in _TRUE + _FALSE:
            raise FormatError(
                f"'GD_ALLOW_LOCAL_STORE' must be 1 or 0, not {raw!r}",
                file="env GD_ALLOW_LOCAL_STORE",
            )
        sources[_ALLOW_LOCAL] = "env GD_ALLOW_LOCAL_STORE"
        return raw in _TRUE
    for cfg, where in (
        (repo_cfg, f"{repo_root}/{REPO_CONFIG}"),
        (user_cfg, str(user_config_path())),
    ):
        hooks = cfg.get("hooks")
        if not isinstance(hooks, dict) or _ALLOW_LOCAL not in hooks:
            continue
        if not isinstance(hooks[_ALLOW_LOCAL], bool):
            raise FormatError(
                f"bad hooks setting {_ALLOW_LOCAL}: {hooks[_ALLOW_LOCAL]!r} (allowed: true|false)",
                file=where,
            )
        sources[_ALLOW_LOCAL] = where
        return hooks[_ALLOW_LOCAL]
    sources[_ALLOW_LOCAL] = "default"
    return False


def resolve_settings(
    storage: str | None = None,
    cache_dir: str | Path | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve every setting by the precedence in the module docstring."""
    env = os.environ
    repo_root = find_repo_root(cwd)
    repo_cfg = _read_config(repo_root / REPO_CONFIG) if repo_root else {}
    user_cfg = _read_config(user_config_path())
    _refuse_local_folders(repo_cfg, repo_root)
    sources: dict[str, str] = {}

    def pick(key: str, flag: Any, env_var: str | None) -> Any:
        if flag is not None:
            sources[key] = "flag"
            return flag
        if env_var and env.get(env_var):
            sources[key] = f"env {env_var}"
            return env[env_var]
        if key in repo_cfg and repo_root is not None and key not in _LOCAL_FOLDER_KEYS:
            sources[key] = str(repo_root / REPO_CONFIG)
            return repo_cfg[key]
        if key in user_cfg:
            sources[key] = str(user_config_path())
            return user_cfg[key]
        sources[key] = "default"
        return None

    store = pick("storage", storage, "GD_STORAGE")
    if store is None:
        store = str(default_store_path())
    elif not isinstance(store, str):
        raise FormatError("'storage' must be a URL or path string", file=sources["storage"])
    elif repo_root is not None and sources["storage"].endswith(REPO_CONFIG) and "://" not in store:
        # Relative store paths in the repo config are relative to the repo root.
        store = str((repo_root / os.path.expanduser(store)).resolve())

    options = _storage_options(repo_cfg, user_cfg, repo_root, sources)

    cache = pick("cache_dir", str(cache_dir) if cache_dir else None, "GD_CACHE_DIR")
    cache_path = Path(os.path.expanduser(cache)) if cache else default_cache_dir()

    size_raw = pick("cache_size", None, "GD_CACHE_SIZE")
    size_limit = DEFAULT_CACHE_SIZE if size_raw is None else parse_size(size_raw, "cache_size")

    chunk_mb = pick("chunk_size_mb", None, None)
    chunk_mb = DEFAULT_CHUNK_MB if chunk_mb is None else chunk_mb
    if not isinstance(chunk_mb, (int, float)) or chunk_mb <= 0:
        raise FormatError(
            "'chunk_size_mb' must be a positive number", file=sources["chunk_size_mb"]
        )

    compression = pick("compression", None, None) or "stored"
    if compression not in _COMPRESSIONS:
        raise FormatError(
            f"'compression' must be one of {', '.join(_COMPRESSIONS)}", file=sources["compression"]
        )

    hooks = dict(DEFAULT_HOOKS)
    raw_hooks = pick("hooks", None, None) or {}
    if not isinstance(raw_hooks, dict):
        raise FormatError("'hooks' must be a mapping", file=sources["hooks"])
    for key, value in raw_hooks.items():
        if key == _ALLOW_LOCAL:
            continue  # a per-key boolean, resolved below
        if key not in _HOOK_CHOICES or value not in _HOOK_CHOICES[key]:
            choices = "; ".join(f"{k}: {'|'.join(v)}" for k, v in _HOOK_CHOICES.items())
            choices += f"; {_ALLOW_LOCAL}: true|false"
            raise FormatError(
                f"bad hooks setting {key}: {value!r} (allowed: {choices})", file=sources["hooks"]
            )
        hooks[key] = value

    retries_raw = pick("retries", None, "GD_RETRIES")
    try:
        retries = DEFAULT_RETRIES if retries_raw is None else int(retries_raw)
        if retries < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise FormatError(
            f"'retries' must be a whole number >= 0, not {retries_raw!r}", file=sources["retries"]
        ) from None

    create_raw = pick("create_bucket", None, "GD_CREATE_BUCKET")
    create_bucket = str(create_raw).lower() in ("1", "true", "yes", "on")

    allow_local = _allow_local_store(repo_cfg, user_cfg, repo_root, sources)

    stale_raw = pick("lock_stale", None, "GD_LOCK_STALE")
    try:
        lock_stale = DEFAULT_LOCK_STALE if stale_raw is None else int(stale_raw)
        if lock_stale < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise FormatError(
            f"'lock_stale' must be a whole number of seconds >= 1, not {stale_raw!r}",
            file=sources["lock_stale"],
        ) from None

    return Settings(
        lock_stale=lock_stale,
        retries=retries,
        create_bucket=create_bucket,
        allow_local_store=allow_local,
        storage=store,
        storage_options=options,
        cache_dir=cache_path,
        state_dir=default_state_dir(),
        cache_size_limit=size_limit,
        chunk_size=int(chunk_mb * 1024 * 1024),
        compression=compression,
        repo_root=repo_root,
        sources=sources,
        hooks=hooks,
    )
