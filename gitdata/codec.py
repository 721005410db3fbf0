"""YAML reading and canonical writing shared by records, pointers and config.

Reading uses the safe loader only.  Writing is canonical: the caller decides
key order, flow style is never used, and the output is byte-stable so that
pointer diffs in git stay clean.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from gitdata.errors import FormatError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Plain scalars a YAML 1.2 (core schema) reader resolves to something other than a
# string.  PyYAML speaks YAML 1.1 and quotes that schema's specials itself ('yes',
# '2026-01-01', '0x1F'), but writes 1e3, 0o17 or 1_000-free forms like +1 plain; a
# second implementation with a 1.2 parser would read those as numbers.
_YAML12_NOT_STRING = re.compile(
    r"""(?x)
    (?: null | Null | NULL | ~ | true | True | TRUE | false | False | FALSE
      | [-+]? [0-9]+
      | 0o [0-7]+ | 0x [0-9a-fA-F]+
      | [-+]? (?: \.[0-9]+ | [0-9]+ (?: \.[0-9]* )? ) (?: [eE] [-+]? [0-9]+ )?
      | [-+]? \. (?: inf | Inf | INF ) | \. (?: nan | NaN | NAN ) )
    """
)


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """Canonical writer: strings a YAML 1.1 or 1.2 reader would not read back as
    strings are single-quoted (docs/format.md §12)."""


def _represent_str(dumper: Any, value: str) -> Any:
    if value == "" or _YAML12_NOT_STRING.fullmatch(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_str)


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
