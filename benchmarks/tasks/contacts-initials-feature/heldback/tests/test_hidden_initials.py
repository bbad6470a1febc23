from contacts.names import initials


def test_lowercase_and_extra_spaces():
    assert initials("ada lovelace") == "AL"
    assert initials("  grace   brewster  hopper ") == "GBH"


def test_hyphenated_parts_count():
    assert initials("Jean-Luc Picard") == "JLP"


def test_blank_names():
    assert initials("") == ""
    assert initials("   ") == ""


def test_single_name():
    assert initials("plato") == "P"
