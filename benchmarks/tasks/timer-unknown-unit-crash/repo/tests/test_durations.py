import pytest
from timer.cli import main
from timer.durations import format_seconds, parse_duration


def test_parse_duration():
    assert parse_duration("90s") == 90
    assert parse_duration("5m") == 300
    assert parse_duration("1h30m") == 5400
    assert parse_duration(" 2H 15m ") == 8100


def test_empty_duration_is_invalid():
    with pytest.raises(ValueError):
        parse_duration("   ")


def test_format_seconds():
    assert format_seconds(90) == "1:30"
    assert format_seconds(5400) == "1:30:00"


def test_cli_sets_the_timer(capsys):
    slept = []
    assert main(["5m"], sleep=slept.append) == 0
    assert slept == [300]
    assert "timer set for 5:00" in capsys.readouterr().out


def test_cli_rejects_an_empty_duration(capsys):
    assert main([""], sleep=lambda s: None) == 2
    assert "invalid duration" in capsys.readouterr().err
