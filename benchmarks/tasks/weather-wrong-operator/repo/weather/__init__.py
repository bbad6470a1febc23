"""Weather station readings: unit conversion and daily summaries."""
