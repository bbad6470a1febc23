from mailer.batches import batched
from mailer.export import export_contacts


def test_the_last_batch_may_be_shorter():
    assert list(batched(list(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([1, 2], 5)) == [[1, 2]]
    assert list(batched([], 3)) == []


def test_export_of_105_contacts_sends_all_of_them():
    sent = []
    emails = [f"user{n}@example.com" for n in range(105)]
    assert export_contacts(emails, sent.append) == 3
    assert [len(batch) for batch in sent] == [50, 50, 5]
    assert [email for batch in sent for email in batch] == emails


def test_a_short_list_is_sent_too():
    sent = []
    assert export_contacts(["a@x.org", "b@x.org"], sent.append) == 1
    assert sent == [["a@x.org", "b@x.org"]]
