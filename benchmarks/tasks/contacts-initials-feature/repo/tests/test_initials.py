from contacts.names import initials


def test_initials_of_a_simple_name():
    assert initials("Ada Lovelace") == "AL"
