import pytest
from grades.report import course_report
from grades.stats import median


def test_median_of_unsorted_values():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([10.0, 40.0, 20.0, 30.0]) == 25.0
    assert median([5.0]) == 5.0
    with pytest.raises(ValueError):
        median([])


def test_median_leaves_the_callers_list_alone():
    values = [3.0, 1.0, 2.0]
    median(values)
    assert values == [3.0, 1.0, 2.0]


def test_report_order_independent():
    scores = {"a": 88.0, "b": 12.0, "c": 45.0, "d": 91.0, "e": 60.0}
    assert course_report("X", scores)["median"] == 60.0


def test_curve_uses_the_true_median():
    from grades.curve import curve_to_median

    curved = curve_to_median({"a": 80.0, "b": 60.0, "c": 70.0}, target=75.0)
    assert curved == {"a": 85.0, "b": 65.0, "c": 75.0}
