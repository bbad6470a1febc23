from grades.report import course_report


def test_report_of_a_small_course():
    report = course_report("Algebra", {"ann": 71.0, "bo": 95.0, "cy": 64.0})
    assert report == {"course": "Algebra", "students": 3, "mean": 76.7, "median": 71.0, "top": "bo"}


def test_median_does_not_depend_on_entry_order():
    report = course_report("Biology", {"dee": 90.0, "ed": 50.0, "flo": 70.0, "gus": 60.0})
    assert report["median"] == 65.0
