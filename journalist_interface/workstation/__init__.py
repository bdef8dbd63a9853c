"""The offline reviewer workstation: the only place reports are decrypted and read."""
