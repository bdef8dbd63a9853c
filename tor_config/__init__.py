"""Tor for Səsim: the onion services, client authorisation for staff, through stem.

- :mod:`tor_config.torrc`: the torrc of an instance, its folders and onion keys;
- :mod:`tor_config.clients`: one x25519 client key per lawyer for the staff onion;
- :mod:`tor_config.control`: the control port (status, reloads, ephemeral onions).

The ``sesim tor`` commands (``tor_config/cli.py``) are thin wrappers
around these. Every error is a :class:`TorConfigError`.
"""

from tor_config.clients import (
    Client,
    ClientKey,
    add_client,
    list_clients,
    new_client_key,
    parse_auth_line,
    parse_private_line,
    revoke_client,
)
from tor_config.errors import TorConfigError
from tor_config.torrc import Onion, onion, onions, prepare, read_address, render_torrc, write_torrc

__all__ = [
    "Client",
    "ClientKey",
    "Onion",
    "TorConfigError",
    "add_client",
    "list_clients",
    "new_client_key",
    "onion",
    "onions",
    "parse_auth_line",
    "parse_private_line",
    "prepare",
    "read_address",
    "render_torrc",
    "revoke_client",
    "write_torrc",
]
