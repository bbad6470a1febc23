import pytest
from timer.cli import main
from timer.durations import parse_duration


@pytest.mark.parametrize("text", ["10x", "5m3q", "1d"])
def test_an_unknown_unit_is_an_invalid_duration(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_cli_reports_a_mistyped_duration(capsys):
    slept = []
    assert main(["10x"], sleep=slept.append) == 2
    assert slept == []
    assert "invalid duration" in capsys.readouterr().err


def test_valid_durations_still_work():
    assert parse_duration("10m") == 600
    assert parse_duration("1h 5s") == 3605
