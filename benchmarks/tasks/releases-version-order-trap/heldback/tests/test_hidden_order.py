from releases.changelog import newest_first
from releases.versions import latest, parse_version


def test_numeric_order_everywhere():
    assert parse_version("2.0") > parse_version("1.99.99")
    assert parse_version("0.10.1") > parse_version("0.9.12")
    assert latest(["v0.9.0", "v0.10.0", "v0.2.0"]) == "v0.10.0"
    assert newest_first({"1.9.0": "", "1.10.0": "", "1.2.0": ""}) == ["1.10.0", "1.9.0", "1.2.0"]
