"""Newsletter tooling: the contact list and its export to the mailing service."""
