"""Tags as users type them in the 'tags' box: comma separated."""


def parse_tags(text: str) -> list[str]:
    """'Work, urgent' -> ['work', 'urgent']: lowercased, trimmed, in the order typed, without duplicates."""
    tags: list[str] = []
    for raw in text.split(","):
        tag = raw.strip().lower()
        if tag and tag not in tags:
            tags.append(tag)
    return tags
