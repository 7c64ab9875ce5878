"""Bringing comments in from other systems (and our own export) and taking them out again."""
