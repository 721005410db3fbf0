"""Commands that show versions in a browser: ui (a local server) and report (one file)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from gitdata.cli.app import app
from gitdata.cli.build_cmds import ID_HELP, JSON_HELP
from gitdata.cli.output import emit_json, note, say, warn
from gitdata.errors import local_disk_error


@app.command()
def ui(
    port: int = typer.Option(
        8470,
        "--port",
        metavar="PORT",
        min=0,
        max=65535,
        help="Port to listen on (0: any free port).",
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", metavar="HOST", help="Address to bind (default: this machine only)."
    ),
    storage: str = typer.Option(
        None, "--storage", metavar="URL", help="Store to show (default: configured)."
    ),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in a browser."),
) -> None:
    """Serve a local, read-only web UI over the store.

    Dataset list, version pages with lineage, change sets and file listings, and inside
    a repository the pointers' history. Binds to the loopback; Ctrl-C stops it.

    Examples:

      gd ui --open

      gd ui --port 8080 --storage s3://bucket/datasets
    """
    from gitdata.ui.catalog import Catalog
    from gitdata.ui.server import is_loopback, make_server

    if not is_loopback(host):
        warn(
            f"binding to {host}: anyone who can reach this machine on port {port} can read "
            "every dataset in the store (there is no login)"
        )
    try:
        server = make_server(Catalog(storage), host, port)
    except OSError as exc:
        raise typer.BadParameter(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound_host, bound_port = str(server.server_address[0]), server.server_address[1]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown}:{bound_port}/"
    say(f"gd ui: serving {url} (read-only; Ctrl-C stops)")
    sys.stdout.flush()  # whoever started us (a script, a test) reads the address now
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        note("stopped")
    finally:
        server.server_close()


@app.command()
def report(
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE", help="HTML file to write."),
    storage: str = typer.Option(None, "--storage", metavar="URL", help="Store to read from."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Write a version's page as one self-contained HTML file.

    It opens offline: no script, no link to a server, nothing loaded.

    Examples:

      gd report --output cats.html

      gd report --id 3f2a9c41 --output report.html
    """
    from gitdata.repo_api import Workspace
    from gitdata.ui.catalog import Catalog
    from gitdata.ui.views import report as render

    ws = Workspace(storage)
    vid = ws.resolve_id(dataset_id) if dataset_id else ws.current_id()
    html = render(Catalog(storage), vid)
    write_new_file(output, html.encode("utf-8"))
    if json_out:
        emit_json({"id": vid, "output": str(output), "bytes": len(html.encode("utf-8"))})
        return
    say(f"wrote {output} ({len(html.encode('utf-8')):,} bytes)")


def write_new_file(path: Path, data: bytes) -> None:
    """Write ``path`` through a temp file and a rename; never through a symlink."""
    if path.is_symlink():
        raise typer.BadParameter(f"{path} is a symlink; gd does not write through links")
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; give a file name")
    tmp = path.with_name(f".{path.name}.report-tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise local_disk_error(exc, "the report", path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
