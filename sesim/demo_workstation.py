"""The demo's reviewer workstation: a home under ``<demo>/workstation`` whose key the
demo server seals every report to, filled with the server's own export bundle, and a
first publication bundle of a few redacted, consented entries for the public map.

Everything goes through the same code a Legal Centre would use: the staff interface's
export planning, the workstation's import, drafts, redaction check and signed
publication. Only the passphrase is made up here (printed by the demo).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from crypto import new_private_file
from journalist_interface import exports
from journalist_interface.workstation import publish
from journalist_interface.workstation.casestore import CaseStore, Connection
from journalist_interface.workstation.importer import ImportResult, import_bundle
from journalist_interface.workstation.keys import (
    KDF_FLOOR_MEMLIMIT,
    KDF_FLOOR_OPSLIMIT,
    KeyInfo,
    init_home,
    unlock,
)
from securedrop_like import db
from securedrop_like.codenames import generate_codename
from securedrop_like.config import Config
from securedrop_like.demo import install_reviewer_key, load_demo_data
from securedrop_like.service import ReportService

from .demo_map import draft_map_entry, is_map_report

WORKSTATION_FOLDER = "workstation"
# The demo keeps its workstation's passphrase beside it, so a re-used demo folder can
# be unlocked again. Demo only: a real passphrase is never written down.
PASSPHRASE_FILE = "DEMO-ONLY-passphrase.txt"  # noqa: S105 - a file name
PUBLISHED = 6  # hand-written demo reports in the first bundle (the map's are all in it)


@dataclass(frozen=True)
class DemoWorkstation:
    home: Path
    passphrase: str
    keys: KeyInfo
    imported: ImportResult | None = None
    publication: publish.PublicationSummary | None = None


def create_workstation(config: Config) -> DemoWorkstation:
    """A new workstation home beside the demo instance, its key installed on the server
    as a second reviewer (so every report is sealed to both: any one reviewer can read)."""
    home = config.home / WORKSTATION_FOLDER
    passphrase = generate_codename()  # seven words: the demo prints it for the unlock page
    # libsodium's interactive costs: the demo starts in a second, a real home uses more.
    keys = init_home(
        home,
        passphrase,
        name="demo-reviewer",
        opslimit=KDF_FLOOR_OPSLIMIT,
        memlimit=KDF_FLOOR_MEMLIMIT,
    )
    with new_private_file(home / PASSPHRASE_FILE, encoding="utf-8") as handle:
        handle.write(passphrase + "\n")
    install_reviewer_key(config, keys.submission_public, "Demo workstation (demo only)")
    return DemoWorkstation(home, passphrase, keys)


def read_passphrase(home: Path) -> str:
    """The demo workstation's passphrase, as written when it was made."""
    return (home / PASSPHRASE_FILE).read_text(encoding="utf-8").strip()


def fill_workstation(config: Config, made: DemoWorkstation) -> DemoWorkstation:
    """Export every item from the server as the staff interface would, import it on the
    workstation, and publish a few consented entries that pass the redaction check."""
    bundle = made.home / f"sesim-export-{db.today()}.tar"
    reports = ReportService.open(config)
    try:
        conn = reports.db.reader()
        job = exports.plan(reports, conn, "new", [], db.today())
        with open(bundle, "xb") as out:
            for chunk in job.plan.chunks():
                out.write(chunk)
        exports.mark(reports, job)
    finally:
        reports.close()
    with unlock(made.home, made.passphrase) as unlocked:
        store = CaseStore.open(made.home, unlocked)
        try:
            imported = import_bundle(store, unlocked, bundle)
            with store.transaction() as conn:
                accepted = _draft_entries(conn)
            summary = None
            if accepted:  # a demo of a few reports may have none to publish
                out_file = made.home / "publications" / "sesim-publication-1.json"
                out_file.parent.mkdir(mode=0o700, exist_ok=True)
                summary = publish.write_publication(store, unlocked, out_file)
        finally:
            store.close()
    bundle.unlink()  # its items are in the case store now; a real reviewer wipes the stick
    return DemoWorkstation(made.home, made.passphrase, made.keys, imported, summary)


def _draft_entries(conn: Connection) -> int:
    """Accept a draft for the first PUBLISHED hand-written cases whose report says "yes,
    publish" (never "no", never "ask me first": she has not seen the entry) and whose
    draft has no problem once the reviewer's summary is written, and for every synthetic
    map report (``demo_map``: all say "yes"); drafts that still have a problem are left
    for the demo's visitor to work on."""
    summaries = load_demo_data()["public_summaries"]
    rng = random.Random(7)  # noqa: S311 - places demo entries, not secrets
    accepted = synthetic = 0
    rows = conn.execute(
        "SELECT c.id, i.document FROM cases c JOIN items i ON i.case_id = c.id"
        " AND i.kind = 'report' AND i.document IS NOT NULL"
        " WHERE c.withdrawn_day IS NULL ORDER BY c.id"
    ).fetchall()
    for row in rows:
        document = json.loads(row["document"])
        if document.get("consent") != "yes":
            continue
        map_report = is_map_report(document)
        if not map_report and accepted == PUBLISHED:
            continue
        try:
            if map_report:
                draft_id = draft_map_entry(conn, row["id"], document, rng)
            else:
                draft_id = publish.create_draft(conn, row["id"])
                draft = publish.get_draft(conn, draft_id)
                publish.update_draft(
                    conn, draft_id, summary=summaries.get(draft.language, summaries["en"])
                )
        except publish.PublishError:
            continue
        if publish.draft_problems(conn, draft_id):
            continue
        publish.accept(conn, draft_id)
        if map_report:
            synthetic += 1
        else:
            accepted += 1
    return accepted + synthetic
