from netutil.retry import backoff_delays, retry


def test_delays_double():
    assert backoff_delays(4, base=1.0) == [1.0, 2.0, 4.0, 8.0]


def test_retry_until_success():
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    waits = []
    assert retry(flaky, retries=3, base=0.1, sleep=waits.append) == "ok"
    assert len(waits) == 2
