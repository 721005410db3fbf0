"""close_names: the nearest few, none for an exact or a far name."""

from __future__ import annotations

from gitdata.core.suggest import close_names, did_you_mean


def test_close_names_keeps_the_nearest_only():
    known = ["vision/cats", "vision/dogs", "audio/cats", "vision/cats"]
    assert close_names("visoin/cats", known) == ["vision/cats"]
    assert close_names("vision/cats", known) == []
    assert close_names("zzzz", known) == []
    assert close_names("cat", ["cats", "cart", "dogs"]) == ["cart", "cats"]


def test_did_you_mean_text():
    assert did_you_mean(["a/b", "a/c"]) == "did you mean: a/b, a/c?"
    assert did_you_mean([]) == ""
