from notes.index import build_index
from notes.tags import parse_tags


def test_parse_tags():
    assert parse_tags("Work, urgent") == ["work", "urgent"]
    assert parse_tags("a,A, a") == ["a"]


def test_stray_commas_make_no_empty_tags():
    assert parse_tags("work,, home,") == ["work", "home"]


def test_index():
    assert build_index({"plan": "work", "list": "home, work"}) == {"work": ["list", "plan"], "home": ["list"]}
