"""Daily summaries of temperature readings (stored in Celsius)."""

from weather.units import celsius_to_fahrenheit


def daily_summary(readings: list[float], unit: str = "C") -> dict[str, float]:
    if not readings:
        raise ValueError("no readings")
    low, high = min(readings), max(readings)
    mean = sum(readings) / len(readings)
    if unit == "F":
        low, high, mean = (celsius_to_fahrenheit(value) for value in (low, high, mean))
    return {"low": round(low, 1), "high": round(high, 1), "mean": round(mean, 1)}
