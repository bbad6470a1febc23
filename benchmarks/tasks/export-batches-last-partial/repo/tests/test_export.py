import pytest
from mailer.batches import batched
from mailer.export import export_contacts


def test_batches_keep_the_order():
    assert list(batched(list(range(6)), 3)) == [[0, 1, 2], [3, 4, 5]]
    assert list(batched("abcd", 2)) == [["a", "b"], ["c", "d"]]


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError):
        list(batched([1, 2, 3], 0))


def test_export_sends_everyone_in_batches():
    sent = []
    emails = [f"user{n}@example.com" for n in range(100)]
    assert export_contacts(emails, sent.append) == 2
    assert [len(batch) for batch in sent] == [50, 50]
    assert [email for batch in sent for email in batch] == emails


def test_export_skips_duplicates_and_blanks():
    sent = []
    export_contacts(["A@x.org", "a@x.org ", "", "b@x.org", "c@x.org"], sent.append, batch_size=3)
    assert sent == [["a@x.org", "b@x.org", "c@x.org"]]
