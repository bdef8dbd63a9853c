"""``sesim serve map``: werkzeug's threaded server, on 127.0.0.1 by default (put nginx or
a Tor onion service in front for the public). It holds no secret; it keeps no access log
and prints no address or time (readers' addresses are nobody's business); a client that
sends nothing for 30 s, or takes over 300 s to send one request, is cut off
(``securedrop_like.serve.QuietRequestHandler``)."""

from __future__ import annotations

import threading
from pathlib import Path

from securedrop_like.serve import make_quiet_server, serve_in_process

from . import data
from .app import create_app
from .instance import open_map

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8083


def run(home: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    instance = open_map(home)
    app = create_app(instance)
    # The map page's data made while the server starts, not by the first reader.
    threading.Thread(target=data.warm, args=(instance,), name="warm-map-json", daemon=True).start()
    serve_in_process(make_quiet_server(host, port, app), "Map")
