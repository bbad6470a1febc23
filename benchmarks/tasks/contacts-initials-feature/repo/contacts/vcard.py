"""A minimal vCard 3.0 export."""

from contacts.names import display_name, normalize


def to_vcard(first: str, last: str, email: str | None = None) -> str:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"N:{normalize(last)};{normalize(first)};;;",
             f"FN:{display_name(first, last)}"]
    if email:
        lines.append(f"EMAIL:{email.strip()}")
    lines.append("END:VCARD")
    return "\r\n".join(lines)
