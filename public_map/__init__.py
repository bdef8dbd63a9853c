"""The public map (a later issue)."""
