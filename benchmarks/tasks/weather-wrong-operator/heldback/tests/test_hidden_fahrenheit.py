import pytest
from weather.summary import daily_summary
from weather.units import celsius_to_fahrenheit, fahrenheit_to_celsius


def test_known_points():
    assert celsius_to_fahrenheit(0) == pytest.approx(32)
    assert celsius_to_fahrenheit(-40) == pytest.approx(-40)
    assert celsius_to_fahrenheit(37) == pytest.approx(98.6)


def test_round_trip():
    for celsius in (-12.5, 0, 21.3, 100):
        assert fahrenheit_to_celsius(celsius_to_fahrenheit(celsius)) == pytest.approx(celsius)


def test_summary_in_fahrenheit():
    assert daily_summary([0.0, 100.0], unit="F") == {"low": 32.0, "high": 212.0, "mean": 122.0}
