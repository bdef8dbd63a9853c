"""The demo's workstation: every report sealed to it, the server's export imported,
and a first publication bundle that the public map can verify."""

from __future__ import annotations

from journalist_interface.workstation.casestore import CaseStore
from journalist_interface.workstation.keys import read_verify_key_file, unlock
from securedrop_like import models
from securedrop_like.bundles import read_publication
from securedrop_like.db import Database
from securedrop_like.demo import load_demo_data, populate
from sesim.demo_workstation import create_workstation, fill_workstation
from tests.conftest import Instance


def test_the_demo_workstation_reads_every_report_and_publishes_a_few(instance: Instance) -> None:
    made = create_workstation(instance.config)
    populate(instance.config, 18, seed=7)
    filled = fill_workstation(instance.config, made)

    assert filled.imported is not None and filled.publication is not None
    assert filled.imported.errors == 0 and filled.imported.new_items > 18
    assert filled.imported.withdrawals == 1
    conn = Database.for_config(instance.config).open()
    try:
        assert models.count_sources(conn) == 18
        assert conn.execute("SELECT count(*) FROM items WHERE exported = 0").fetchone()[0] == 0
    finally:
        conn.close()
    with unlock(made.home, made.passphrase) as unlocked:
        store = CaseStore.open(made.home, unlocked)
        try:
            with store.connection() as cases:
                open_cases = cases.execute(
                    "SELECT count(*) FROM cases WHERE withdrawn_day IS NULL"
                ).fetchone()[0]
                unreadable = cases.execute(
                    "SELECT count(*) FROM items WHERE error IS NOT NULL"
                ).fetchone()[0]
        finally:
            store.close()
    assert open_cases == 18 and unreadable == 0

    verify_key = read_verify_key_file(made.keys.verify_key_file)
    published = read_publication(filled.publication.path, verify_key, expect_sequence=1)
    assert 1 <= len(published.entries) <= 6
    summaries = set(load_demo_data()["public_summaries"].values())
    texts = {report["text"] for report in load_demo_data()["reports"]}
    for entry in published.entries:
        assert entry.summary in summaries
        # A story is hers, only where she said yes, and passed the redaction check.
        assert entry.story is None or entry.story in texts
    assert not list(made.home.glob("sesim-export-*.tar"))  # the stick is wiped


def test_a_demo_with_nothing_to_publish_still_fills_the_workstation(instance: Instance) -> None:
    made = create_workstation(instance.config)
    populate(instance.config, 1, seed=1)  # one "ask me first" report and the withdrawn one
    filled = fill_workstation(instance.config, made)
    assert filled.imported is not None and filled.imported.new_items >= 2
    assert filled.publication is None
    assert not (made.home / "publications").exists()
