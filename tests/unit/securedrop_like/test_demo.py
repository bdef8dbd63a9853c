"""The demo's synthetic data: reports in three languages, replies, and one withdrawal."""

from __future__ import annotations

from securedrop_like import models
from securedrop_like.db import Database
from securedrop_like.demo import populate
from tests.conftest import Instance


def test_populate_makes_sources_with_replies_and_one_withdrawal(instance: Instance) -> None:
    made = populate(instance.config, 6, seed=3)
    assert len(made) == 6 and {lang for _, lang in made} <= {"az", "ru", "en"}
    conn = Database.for_config(instance.config).open()
    try:
        assert models.count_sources(conn) == 6
        (retraction,) = models.retractions(conn)
        assert len(retraction.item_ids) == 1
        kinds = {r[0] for r in conn.execute("SELECT DISTINCT kind FROM items")}
        assert "report" in kinds
    finally:
        conn.close()


def test_the_synthetic_replies_are_signed_by_the_name_given(instance: Instance) -> None:
    populate(instance.config, 8, seed=3, author="nigar")
    conn = Database.for_config(instance.config).open()
    try:
        authors = {r[0] for r in conn.execute("SELECT author FROM items WHERE kind = 'reply'")}
    finally:
        conn.close()
    assert authors == {"nigar"}
