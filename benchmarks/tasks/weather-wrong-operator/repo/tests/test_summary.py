from weather.summary import daily_summary


def test_summary_in_celsius():
    assert daily_summary([10.0, 20.0, 30.0]) == {"low": 10.0, "high": 30.0, "mean": 20.0}
