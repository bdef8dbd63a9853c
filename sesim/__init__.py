"""The ``sesim`` command and the demo: the composition root, above every app.

Each part contributes its own commands (``securedrop_like.cli.COMMANDS`` for the
core, ``journalist_interface.cli`` for staff accounts, ``tor_config.cli`` for tor,
``journalist_interface.workstation.cli`` for the offline workstation); this package
assembles them, and ``sesim serve`` and ``sesim demo`` start the apps. Nothing below
imports it.
"""
