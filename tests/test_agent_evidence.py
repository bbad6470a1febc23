"""What `verified` requires, on its own: the changed lines of a diff, their coverage by passing tests, and the
phrases that say what is missing."""

from __future__ import annotations

from ornith_local.agent.evidence import Coverage, Evidence, broken_test, change_coverage, changed_lines
from ornith_local.tools.testing.spectra import Spectra

DIFF = """diff --git a/shop/cart.py b/shop/cart.py
--- a/shop/cart.py
+++ b/shop/cart.py
@@ -1,5 +1,5 @@
 def total(items):
-    return sum(items) - tax(items)
+    return sum(items) + tax(items)
 # a comment
-# old note
+# new note
@@ -20,3 +20,2 @@ def tax(items):
 a = 1
-b = 2
 c = 3
diff --git a/tests/test_cart.py b/tests/test_cart.py
new file mode 100644
--- /dev/null
+++ b/tests/test_cart.py
@@ -0,0 +1,2 @@
+def test_total():
+    assert total([10]) == 11
"""


def source(path: str) -> bool:
    return not path.startswith("tests/")


def test_changed_lines_are_new_side_code_lines_and_a_deletion_counts_where_it_was() -> None:
    # Line 2 is the changed return; the comment change on line 4 is not code; the deleted `b = 2` stood at line 21.
    assert changed_lines(DIFF, source) == {"shop/cart.py": {2, 21}}
    assert changed_lines(DIFF, lambda path: True)["tests/test_cart.py"] == {1, 2}


def test_coverage_counts_only_lines_a_passing_test_executes() -> None:
    spectra = Spectra()
    spectra.add("shop/cart.py", 2, "tests/test_cart.py::test_total")
    spectra.add("shop/cart.py", 2, "tests/test_cart.py::test_empty")
    spectra.add("shop/cart.py", 21, "tests/test_cart.py::test_failing")
    coverage = change_coverage(changed_lines(DIFF, source), [
        (spectra, {"tests/test_cart.py::test_total", "tests/test_cart.py::test_empty"})])
    assert (coverage.tests, coverage.covered, coverage.changed) == (2, 1, 2)
    assert coverage.uncovered == ("shop/cart.py:21",)  # only a failing test reached it
    assert coverage.summary() == "changed lines covered by 2 tests (1 of 2 lines)"


def test_missing_names_each_gap_and_nothing_when_the_evidence_is_complete() -> None:
    shown = Evidence(tests_ran=3, fail_to_pass=("t::a",), coverage=Coverage(1, 1, 1))
    assert shown.missing() == []
    assert Evidence(tests_ran=3, empty_diff=True).missing() == ["nothing was changed"]
    unshown = Evidence(tests_ran=3, coverage=Coverage(0, 0, 2)).missing()
    assert len(unshown) == 2 and "no test failed before" in unshown[0] and "no passing test executes" in unshown[1]
    # Where coverage cannot be measured (not pytest), the fail-to-pass evidence stands on its own.
    assert Evidence(tests_ran=-1, fail_to_pass=("x",), coverage_note="not measured").missing() == []
    assert Evidence.from_json(shown.to_json()) == shown


def test_a_test_that_cannot_run_is_no_reproduction() -> None:
    assert broken_test("ModuleNotFoundError: No module named 'shop.nowhere'")
    assert broken_test("NameError: name 'totl' is not defined")
    assert not broken_test("AssertionError: assert 9 == 11")
    assert not broken_test("AttributeError: 'Cart' object has no attribute 'discount'")  # a missing feature
