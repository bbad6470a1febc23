import pytest
from netutil.retry import backoff_delays


def test_doubling_from_other_bases_and_the_cap():
    assert backoff_delays(3, base=0.5) == pytest.approx([0.5, 1.0, 2.0])
    assert backoff_delays(0) == []
    assert backoff_delays(8, base=1.0, cap=30.0) == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
