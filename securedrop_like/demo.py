"""``sesim demo``: a throw-away instance with synthetic reports, served locally.

The demo reviewer's *private* key is written into the instance folder so that
tests and curious people can decrypt what the demo holds. That is for the
demo only: a real submission private key never lives on a server.
"""

from __future__ import annotations

import json
import random
from importlib import resources
from typing import Any

from crypto import PrivateKey, PublicKey, write_private_key_file, write_public_key_file

from . import codenames, db, models
from .config import Config
from .derivation import Deriver
from .service import ReportService, Submission

DEMO_KEY_NAME = "DEMO-ONLY-reviewer-private.key"


def load_demo_data() -> dict[str, Any]:
    text = (resources.files("securedrop_like") / "data" / "demo_reports.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def install_demo_reviewer(config: Config) -> PrivateKey:
    key = PrivateKey.generate()
    write_private_key_file(
        config.home / DEMO_KEY_NAME,
        key,
        comment="DEMO ONLY. A real private submission key never lives on a server.",
    )
    write_public_key_file(config.home / "demo-reviewer.pub", key.public_key, comment="demo")
    install_reviewer_key(config, key.public_key, "Demo reviewer (demo only)")
    return key


def install_reviewer_key(config: Config, public: PublicKey, name: str) -> None:
    """Seal every item stored from now on to this key too (`sesim keys add-reviewer`)."""
    conn = db.Database.for_config(config).open()
    try:
        conn.execute("BEGIN IMMEDIATE")
        models.insert_reviewer_key(
            conn, key_id=public.key_id, name=name, public_key=public.raw, day=db.today()
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def populate(
    config: Config, count: int, seed: int | None = None, author: str = "demo"
) -> list[tuple[str, str]]:
    """Create ``count`` synthetic sources; returns (codename, language) of each. Their
    replies are signed ``author``: the demo's staff account, so the staff page names
    someone who exists."""
    data = load_demo_data()
    rng = random.Random(seed)  # noqa: S311 - picks demo content, not secrets
    service = ReportService.open(config)
    deriver = Deriver(config)
    made: list[tuple[str, str]] = []
    try:
        reports = data["reports"]
        for n in range(count):
            report = dict(reports[n % len(reports)])
            lang = report["lang"]
            codename = codenames.generate_codename()
            keys = deriver.derive(deriver.normalise(codename))
            report["channel"] = "web"
            source_id = service.create_source(keys, Submission("report", report))
            if rng.random() < 0.4:
                text = rng.choice(data["messages"][lang])
                service.add_submission(
                    source_id, Submission("message", {"text": text, "lang": lang})
                )
            if rng.random() < 0.5:
                reply = rng.choice(data["replies"][lang])
                service.place_reply(source_id, reply, lang, author=author)
            made.append((codename, lang))
        # One more who then withdrew, so the staff see a withdrawal notice.
        gone = deriver.derive(deriver.normalise(codenames.generate_codename()))
        report = dict(reports[0], channel="web")
        service.withdraw(service.create_source(gone, Submission("report", report)))
    finally:
        service.close()
    return made
