"""``sesim serve map``: werkzeug's threaded server, on 127.0.0.1 by default (put nginx or
a Tor onion service in front for the public). It holds no secret; it keeps no access log
(readers' addresses are nobody's business)."""

from __future__ import annotations

import threading
from pathlib import Path

from werkzeug.serving import make_server

from securedrop_like.serve import serve_in_process

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
    serve_in_process(make_server(host, port, app, threaded=True), "Map")
