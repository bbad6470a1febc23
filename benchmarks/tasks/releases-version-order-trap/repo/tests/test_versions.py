import pytest
from releases.versions import latest, parse_version


def test_plain_and_prefixed_versions_are_equal():
    assert parse_version("v1.2.3") == parse_version("1.2.3")


def test_ordering():
    assert parse_version("1.10.0") > parse_version("1.9.0")
    assert latest(["1.2.0", "1.10.0", "1.9.3"]) == "1.10.0"


def test_garbage_is_rejected():
    with pytest.raises(ValueError):
        parse_version("1.x")
