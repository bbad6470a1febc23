"""Which notes carry which tag."""

from collections import defaultdict

from notes.tags import parse_tags


def build_index(notes: dict[str, str]) -> dict[str, list[str]]:
    """note title -> tags text, to tag -> sorted note titles."""
    index: dict[str, list[str]] = defaultdict(list)
    for title, tags_text in notes.items():
        for tag in parse_tags(tags_text):
            index[tag].append(title)
    return {tag: sorted(titles) for tag, titles in index.items()}
