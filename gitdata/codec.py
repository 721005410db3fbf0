"""YAML reading and canonical writing shared by records, pointers and config.

Reading uses the safe loader only.  Writing is canonical: the caller decides
key order, flow style is never used, and the output is byte-stable so that
pointer diffs in git stay clean.
"""

from __future__ import annotations

from typing import Any

import yaml

from gitdata.errors import FormatError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_yaml_mapping(text: str | bytes, source: str) -> dict[str, Any]:
    """Parse ``text`` as a YAML mapping; raise :class:`FormatError` naming ``source``."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        line = None
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            line = mark.line + 1
        where = f"{source}:{line}" if line else source
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise FormatError(f"malformed YAML in {where}: {problem}", file=source, line=line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FormatError(f"{source} must hold a YAML mapping", file=source, line=1)
    return data


def dump_yaml(data: dict[str, Any]) -> str:
    """Serialise ``data`` canonically: insertion order kept, block style, UTF-8."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )
