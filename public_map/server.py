"""``sesim serve map``: werkzeug's threaded server, on 127.0.0.1 by default (put nginx or
a Tor onion service in front for the public). It holds no secret; it keeps no access log
(readers' addresses are nobody's business)."""

from __future__ import annotations

import logging
from pathlib import Path

from werkzeug.serving import make_server

from .app import create_app
from .instance import open_map

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8083


def run(home: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    app = create_app(open_map(home))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True)
    shown = f"[{host}]" if ":" in host else host
    print(f"Map on http://{shown}:{server.server_port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
