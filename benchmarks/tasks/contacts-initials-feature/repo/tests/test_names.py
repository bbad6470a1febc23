from contacts.names import display_name, normalize


def test_normalize():
    assert normalize("  Ada   Lovelace ") == "Ada Lovelace"


def test_display_name():
    assert display_name("Ada", "Lovelace") == "Lovelace, Ada"
    assert display_name("", "Lovelace") == "Lovelace"
