"""The typer application, the clearml-data style multi-value flags, and error mapping."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

# typer ships its own copy of click; take its exception classes from typer's
# public ones instead of importing click (which would be a different copy).
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)
_PASS_THROUGH: tuple[type[BaseException], ...] = (
    _ClickException,
    typer.Exit,
    typer.Abort,
    SystemExit,
)

# Global flags from the callback (-q, --debug), read by output helpers; "json":
# --json was on the command line (errors are then a JSON object on stdout too).
# "emitted": the command already wrote its JSON document (then an error adds none).
FLAGS: dict[str, bool] = {"debug": False, "quiet": False, "json": False, "emitted": False}

# Commands that pick up where an interrupted run stopped (content already sent or
# fetched is kept): an interruption's hint says so.
RESUMABLE_COMMANDS = frozenset({"upload", "close", "get", "sync", "push", "pull"})
RESUME_HINT = "run the same command again to resume"

# Options that take several values after one flag, as clearml-data's do
# (``--files a b c``).  They are expanded to repeated flags before parsing.
MULTI_VALUE_OPTIONS = frozenset(
    {"--files", "--links", "--parents", "--tags", "--ids", "--wildcard", "--filter"}
)


def expand_multi_value(args: list[str]) -> list[str]:
    """``--files a b --x`` -> ``--files a --files b --x``."""
    out: list[str] = []
    current: str | None = None
    for arg in args:
        if arg == "--":
            current = None
            out.append(arg)
            continue
        if arg.startswith("-") and len(arg) > 1:
            name = arg.split("=", 1)[0]
            current = name if name in MULTI_VALUE_OPTIONS and "=" not in arg else None
            out.append(arg)
            continue
        if current is not None and out and out[-1] != current:
            out.append(current)
        out.append(arg)
    return out


# Flags of the root command that may also be written after the subcommand
# (``gd upload --create-bucket``); they are moved in front of it before parsing.
GLOBAL_FLAGS = frozenset({"--debug", "--quiet", "-q", "--create-bucket"})


def hoist_global_flags(args: list[str]) -> list[str]:
    """``sub --debug x`` -> ``--debug sub x`` (nothing after ``--`` is touched)."""
    cut = args.index("--") if "--" in args else len(args)
    front = [a for a in args[:cut] if a in GLOBAL_FLAGS]
    rest = [a for a in args[:cut] if a not in GLOBAL_FLAGS]
    return front + rest + args[cut:]


class GdGroup(TyperGroup):
    """Expands multi-value flags and turns library errors into one-line messages."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = list(args)
        FLAGS["json"] = "--json" in args[: args.index("--") if "--" in args else len(args)]
        FLAGS["emitted"] = False
        try:
            return super().parse_args(ctx, expand_multi_value(hoist_global_flags(args)))
        except _ClickException as exc:
            report_usage_json(exc, ctx)
            raise

    def invoke(self, ctx: Any) -> Any:
        from gitdata.api import explain_os_error
        from gitdata.cli.output import stop_progress_bars
        from gitdata.errors import EXIT_INTERNAL, GitDataError, StorageUnavailableError

        try:
            try:
                return super().invoke(ctx)
            except OSError as exc:
                # a full or read-only disk is the machine's state, not a bug in gd
                explained = explain_os_error(exc)
                if explained is None:
                    raise
                raise explained from exc
            finally:
                # a bar a failed command left running would be drawn over its error line
                stop_progress_bars()
        except GitDataError as exc:
            if debug_enabled():
                raise
            hint = cli_hint(exc)
            if _resumable(ctx) and isinstance(exc, StorageUnavailableError):
                hint = f"{hint}; then {RESUME_HINT}" if hint else RESUME_HINT
            report_json_error(exc.exit_code, type(exc).__name__, exc.to_dict(), hint)
            report_error(exc.message, hint, exc.fields.get("problems"))
            raise typer.Exit(exc.exit_code) from None
        except _ClickException as exc:
            report_usage_json(exc, ctx)
            raise
        except _PASS_THROUGH:
            raise
        except KeyboardInterrupt:
            hint = RESUME_HINT if _resumable(ctx) else None
            report_json_error(130, "KeyboardInterrupt", {"message": "interrupted"}, hint)
            report_error("interrupted", hint)
            exit_now_if_transfers_running(130)
            raise typer.Exit(130) from None
        except BrokenPipeError as exc:
            if output_closed():
                # the reader went away (gd list | head): stop quietly, as git does
                silence_closed_output()
                raise typer.Exit(EXIT_BROKEN_PIPE) from None
            if debug_enabled():
                raise
            report_internal_error(exc)
            raise typer.Exit(EXIT_INTERNAL) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence for users
            if debug_enabled():
                raise
            report_internal_error(exc)
            raise typer.Exit(EXIT_INTERNAL) from None


# 128 + SIGPIPE: what a shell reports for git (or cat) writing into a closed pipe.
EXIT_BROKEN_PIPE = 141


def _reader_gone(stream: Any) -> bool:
    """Whether ``stream`` is a pipe or socket whose reading end has been closed."""
    import select
    import stat

    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return False
    if not hasattr(select, "poll"):  # Windows: a broken pipe there is one too
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def output_closed() -> bool:
    """Whether stdout or stderr is a pipe whose reader has gone away."""
    return _reader_gone(sys.stdout) or _reader_gone(sys.stderr)


def silence_closed_output() -> None:
    """Point stdout and stderr at /dev/null, so that what is still buffered for
    them (and Python's flush at exit) goes nowhere instead of raising again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


def _configure_logging(debug: bool) -> None:
    """Backends (gcsfs, azure) log tracebacks of retried requests; show them only
    with --debug.  Without a handler Python would print warnings to stderr."""
    import logging

    root = logging.getLogger()
    if debug:
        from gitdata.errors import mask_credentials

        class MaskingFormatter(logging.Formatter):
            def format(self, record: logging.LogRecord) -> str:
                return mask_credentials(super().format(record))

        handler = logging.StreamHandler()
        handler.setFormatter(MaskingFormatter("%(name)s: %(message)s"))
        logging.basicConfig(level=logging.INFO, handlers=[handler])
    elif not root.handlers:
        root.addHandler(logging.NullHandler())


def _configure_warnings() -> None:
    """Library warnings (a record skipped, an argument without effect) are one
    ``gd: warning:`` line each, not Python's two-line file:line form."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        from gitdata.cli.output import shown

        sys.stderr.write(f"gd: warning: {shown(str(message))}\n")

    warnings.showwarning = show


def _masked_excepthook(kind: type[BaseException], exc: BaseException, tb: Any, /) -> None:
    """Python's traceback (--debug), with URL credentials masked in every line."""
    import traceback

    from gitdata.errors import mask_credentials

    text = "".join(traceback.format_exception(kind, exc, tb))
    sys.stderr.write(mask_credentials(text))


def _configure_tracebacks() -> None:
    """A --debug traceback reaches stderr through ``sys.excepthook``: mask it too
    (a backend's exception may quote the URL it was given)."""
    sys.excepthook = _masked_excepthook


def debug_enabled() -> bool:
    """--debug on the command line, or GD_DEBUG=1."""
    return FLAGS["debug"] or os.environ.get("GD_DEBUG") == "1"


def exit_now_if_transfers_running(code: int) -> None:
    """After Ctrl-C, leave at once instead of waiting for transfers in flight.

    Python would otherwise join the transfer threads at exit (a 64 MiB chunk on a
    slow link: minutes).  Every write gd makes is crash-safe (temp name, then
    rename or a single PUT; progress saved atomically), so abandoning them is the
    same as the kill -9 the format is designed for.
    """
    from gitdata.repo_api import abandon_transfers

    if abandon_transfers():  # removes the temp files those threads were writing
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _resumable(ctx: Any) -> bool:
    """Whether the command being run resumes where an interrupted run stopped."""
    return getattr(ctx, "invoked_subcommand", None) in RESUMABLE_COMMANDS


def cli_hint(exc: Any) -> str | None:
    """The hint to show on the command line: the error's ``cli_hint`` (naming gd
    commands and flags) when it has one, else its hint (written for the library)."""
    return getattr(exc, "cli_hint", None) or exc.hint


def report_json_error(code: int, kind: str, fields: dict[str, Any], hint: str | None) -> None:
    """With --json: ``{"error": {"code", "type", "message", "hint", ...fields}}`` on
    stdout (docs/cli.md, "Errors with --json"); nothing without --json, nor when the
    command already wrote its result document (stdout holds one JSON document)."""
    if not FLAGS["json"] or FLAGS["emitted"]:
        return
    from gitdata.cli.output import emit_json

    body: dict[str, Any] = {"code": code, "type": kind}
    body.update((k, v) for k, v in fields.items() if k != "error")
    body["hint"] = hint
    with contextlib.suppress(OSError, ValueError):  # a closed stdout: stderr still says it
        emit_json({"error": body})
        sys.stdout.flush()


def report_usage_json(exc: Any, ctx: Any) -> None:
    """With --json: a click usage error as the JSON error object (click then prints
    its usage lines on stderr and exits 2, as without --json)."""
    if not FLAGS["json"]:
        return
    sub = getattr(exc, "ctx", None) or ctx
    helper = f"{sub.command_path} -h" if sub is not None else "gd -h"
    report_json_error(
        exc.exit_code,
        type(exc).__name__,
        {"message": exc.format_message()},
        f"{helper} lists the options",
    )


def report_internal_error(exc: BaseException) -> None:
    """A bug in gd: one line, the --debug hint, and the JSON error with --json."""
    from gitdata.errors import EXIT_INTERNAL

    message = f"internal error: {type(exc).__name__}: {exc}"
    hint = "run again with --debug for a traceback, and please report it"
    report_json_error(EXIT_INTERNAL, "InternalError", {"message": message}, hint)
    report_error(message, hint)


def report_error(message: str, hint: str | None = None, details: list[str] | None = None) -> None:
    """One line on stderr (plus detail lines and a hint line), no traceback.

    URL credentials are masked and control characters escaped in every line
    (``gitdata.cli.output.shown``)."""
    from gitdata.cli.output import shown

    first = message.splitlines()[0] if message else "error"
    sys.stderr.write(f"gd: error: {shown(first)}\n")
    for line in details or []:
        sys.stderr.write(f"  - {shown(line)}\n")
    if hint:
        sys.stderr.write(f"hint: {shown(hint)}\n")


app = typer.Typer(
    cls=GdGroup,
    name="gd",
    help="gitdata: dataset version control for people who already live in git.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        from gitdata import __version__

        typer.echo(f"gd (gitdata) {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print results and errors."),
    create_bucket: bool = typer.Option(
        False,
        "--create-bucket",
        help="Create the store's bucket / container if it does not exist (GD_CREATE_BUCKET=1).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """gitdata: dataset version control for people who already live in git."""
    FLAGS["debug"] = debug
    _configure_logging(debug or os.environ.get("GD_DEBUG") == "1")
    _configure_tracebacks()
    _configure_warnings()
    FLAGS["quiet"] = quiet
    if create_bucket:
        # read by config.resolve_settings, like every other GD_* setting
        os.environ["GD_CREATE_BUCKET"] = "1"
