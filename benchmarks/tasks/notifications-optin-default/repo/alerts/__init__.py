"""E-mail notifications: which users get which kind of mail."""
