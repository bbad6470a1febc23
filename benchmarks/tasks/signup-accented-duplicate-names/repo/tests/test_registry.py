import pytest
from accounts.names import check_name, name_key
from accounts.registry import NameTaken, Registry


def test_name_key_ignores_case_and_spaces():
    assert name_key("  Ada   Lovelace ") == name_key("ada lovelace")
    assert name_key("Bob") != name_key("Rob")


def test_check_name():
    assert check_name("  grace  hopper ") == "grace hopper"
    with pytest.raises(ValueError):
        check_name("ab")


def test_a_taken_name_cannot_be_registered_again():
    registry = Registry()
    assert registry.register("Alice") == "Alice"
    with pytest.raises(NameTaken):
        registry.register(" alice ")
    registry.register("Alicia")
    assert len(registry) == 2
    assert registry.find("ALICE") == "Alice"
