import pytest
from accounts.names import name_key
from accounts.registry import NameTaken, Registry

COMPOSED = "Jos\u00e9"  # é as one code point (as Windows keyboards type it)
DECOMPOSED = "Jose\u0301"  # e + combining acute accent (as macOS often sends it)


def test_accented_names_compare_equal_however_they_are_typed():
    assert COMPOSED != DECOMPOSED
    assert name_key(COMPOSED) == name_key(DECOMPOSED)
    assert name_key("\u00c9lodie") == name_key("e\u0301lodie")


def test_the_second_jose_is_refused():
    registry = Registry()
    registry.register(COMPOSED)
    with pytest.raises(NameTaken):
        registry.register(DECOMPOSED)
    assert len(registry) == 1
    assert registry.find(DECOMPOSED) == COMPOSED


def test_different_names_stay_different():
    assert name_key("Jos\u00e9") != name_key("Jose")
