import pytest
from weather.units import celsius_to_fahrenheit, fahrenheit_to_celsius, kmh_to_knots


def test_boiling_point():
    assert celsius_to_fahrenheit(100) == pytest.approx(212)


def test_fahrenheit_to_celsius():
    assert fahrenheit_to_celsius(212) == pytest.approx(100)


def test_knots():
    assert kmh_to_knots(1.852) == pytest.approx(1)
