-- Səsim schema, version 3: every ciphertext too large to sit inline in its
-- item row lives here, in chunks, instead of in a file of its own under
-- store/ (a file's times record the moment it arrived; see store.py).
-- Keyed by random ids in tables without rowids: no row order says when.
-- Files of earlier versions are moved in by store.import_legacy_files.

CREATE TABLE blobs (
    id              TEXT PRIMARY KEY,          -- random; the item's id once claimed
    size            INTEGER,                   -- ciphertext bytes; NULL while being written
    sha256          BLOB,                      -- of the ciphertext (saves the export a pass)
    claimed         INTEGER NOT NULL DEFAULT 0 -- 1 once an item row is its owner
) WITHOUT ROWID;

CREATE TABLE blob_chunks (
    blob_id         TEXT NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
    n               INTEGER NOT NULL,          -- 0, 1, … in order
    data            BLOB NOT NULL,             -- store.CHUNK_BYTES each, the last shorter
    PRIMARY KEY (blob_id, n)
) WITHOUT ROWID;

-- Housekeeping the writer keeps for itself, e.g. the day of the last VACUUM
-- (days only, like everything else here).
CREATE TABLE housekeeping (
    key             TEXT PRIMARY KEY,
    value           TEXT NOT NULL
) WITHOUT ROWID;
