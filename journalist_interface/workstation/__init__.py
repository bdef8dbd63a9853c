"""The offline reviewer workstation (issue 9)."""
