"""A prepaid wallet: top-ups, payments and their history."""
