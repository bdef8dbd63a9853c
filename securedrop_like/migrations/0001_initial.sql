-- Səsim schema, version 1. Only what the server must know: no text a source
-- typed, no IP address, no user agent, no exact time (days only, UTC).
-- Rows use random text ids, not autoincrement integers, so the schema holds
-- no global order of who wrote when; `seq` orders a source's own items.

CREATE TABLE sources (
    id              TEXT PRIMARY KEY,          -- random
    lookup_id       TEXT NOT NULL UNIQUE,      -- BLAKE2b of half the Argon2id output
    public_key      BLOB NOT NULL,             -- her X25519 public key (replies are sealed to it)
    designation     TEXT NOT NULL UNIQUE,      -- random, for staff; never derived from her codename
    channel         TEXT NOT NULL DEFAULT 'web',
    created_day     TEXT NOT NULL,             -- YYYY-MM-DD
    activity_day    TEXT NOT NULL,
    next_seq        INTEGER NOT NULL DEFAULT 1,
    has_replies     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE items (
    id              TEXT PRIMARY KEY,          -- random; also the ciphertext file name
    source_id       TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('report', 'message', 'file', 'reply')),
    parent_id       TEXT,                      -- a file's report or message
    day             TEXT NOT NULL,
    size            INTEGER NOT NULL,          -- ciphertext bytes
    inline          BLOB,                      -- ciphertext when small, else NULL (in store/)
    author          TEXT,                      -- staff designation of a reply's author
    staff_read      INTEGER NOT NULL DEFAULT 0,
    source_read     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source_id, seq)
) WITHOUT ROWID;

CREATE INDEX items_by_source ON items (source_id, seq);

-- A source withdrew: reviewers must delete decrypted copies and any
-- published entry. Keeps the designation and item ids, nothing else.
CREATE TABLE retractions (
    id              TEXT PRIMARY KEY,
    designation     TEXT NOT NULL,
    day             TEXT NOT NULL,
    item_ids        TEXT NOT NULL              -- JSON list
) WITHOUT ROWID;

CREATE TABLE reviewer_keys (
    key_id          TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    public_key      BLOB NOT NULL UNIQUE,
    added_day       TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
