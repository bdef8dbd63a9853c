"""Tor configuration through stem (issue 4)."""
