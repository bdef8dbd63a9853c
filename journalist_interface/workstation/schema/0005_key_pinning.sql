-- Her public key is pinned: the first key an export brings for a designation is kept.
-- A different key in a later export replaces it only while nothing was sealed to the old
-- one here and no reply from the server opened with it. Otherwise the old key stays, the
-- key the server offered is recorded here (a warning on her case) and replies to her are
-- refused until a reviewer, after checking with her, runs `sesim workstation
-- accept-new-key CASE` (or `--keep-old`). Nothing is ever switched silently.

CREATE TABLE key_conflicts (
    case_id INTEGER PRIMARY KEY REFERENCES cases(id) ON DELETE CASCADE,
    offered_key BLOB NOT NULL,           -- the different key the server's export named
    first_day TEXT NOT NULL,             -- the day an import first offered a different key
    last_day TEXT NOT NULL               -- the latest import that offered it
);
