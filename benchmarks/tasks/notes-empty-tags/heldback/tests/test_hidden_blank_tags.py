from notes.index import build_index
from notes.tags import parse_tags


def test_blank_input_and_whitespace_only_tags():
    assert parse_tags("") == []
    assert parse_tags(" , ,  ") == []
    assert parse_tags(",work , ,Work,") == ["work"]


def test_index_has_no_empty_tag():
    assert build_index({"a": "x,", "b": ""}) == {"x": ["a"]}
