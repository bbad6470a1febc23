"""An address book: contacts, name helpers and vCard export."""
