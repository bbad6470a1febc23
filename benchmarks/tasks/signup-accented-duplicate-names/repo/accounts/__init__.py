"""User accounts of the community site."""
