"""'Did you mean': the closest existing names to one that was not found."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MAX_SUGGESTIONS = 3
CUTOFF = 0.6
# names scoring this much below the best one are not offered beside it
MARGIN = 0.1


def close_names(wanted: str, known: Iterable[str]) -> list[str]:
    """Up to three of ``known`` closest to ``wanted`` (best first, ties by name):
    none when ``wanted`` itself is known or nothing is close."""
    names = sorted(set(known))
    if wanted in names:
        return []
    scored = []
    for candidate in names:
        matcher = difflib.SequenceMatcher(None, wanted, candidate)
        if matcher.real_quick_ratio() >= CUTOFF and matcher.ratio() >= CUTOFF:
            scored.append((-matcher.ratio(), candidate))
    scored.sort()
    if not scored:
        return []
    best = -scored[0][0]
    return [c for s, c in scored[:MAX_SUGGESTIONS] if -s >= best - MARGIN]


def did_you_mean(suggestions: list[str]) -> str:
    """``did you mean: a/b?`` or ``did you mean: a/b, a/c?``; empty without suggestions."""
    return f"did you mean: {', '.join(suggestions)}?" if suggestions else ""
