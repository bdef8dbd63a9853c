-- Səsim schema, version 4: her decisions about drafts a reviewer sent her.
-- A reply sealed on the workstation may ask "may we publish this?" (a
-- consent_request inside the sealed reply document; the server never sees
-- it). She answers on her case page. Stored here: which draft (its random
-- id), publish or not, and the day she last decided. Never the draft's
-- text, never a time. One row per (source, draft): the latest decision
-- counts. Deleted with her (withdrawal, or staff deleting the source).

CREATE TABLE consent_decisions (
    source_id       TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    draft_id        TEXT NOT NULL,             -- 32 hex, from the reply's consent_request
    decision        TEXT NOT NULL CHECK (decision IN ('approve', 'refuse')),
    day             TEXT NOT NULL,             -- YYYY-MM-DD of her latest decision
    exported        INTEGER NOT NULL DEFAULT 0, -- 1 once an export carried this decision
    PRIMARY KEY (source_id, draft_id)
) WITHOUT ROWID;
