"""Splitting a shared bill between friends."""
