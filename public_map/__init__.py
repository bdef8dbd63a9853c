"""The public map (issue 10): a separate site built only from signed publication bundles.

It holds no secret (only the workstation's publication verify key) and has no path to the
reporting servers. It imports the core (``securedrop_like``) and ``crypto`` only, never an
app. Modules: ``instance`` (its folder and settings), ``store`` (its plain SQLite
database: the data is public), ``ingest`` (verify and apply a bundle), ``data`` (the
open data files), ``app`` (the web app) and ``cli`` (``sesim map …``).
"""
