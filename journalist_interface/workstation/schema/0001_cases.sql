-- The workstation's case store: one case per source, her decrypted items, imports,
-- withdrawals and the full-text index. The whole file is SQLCipher-encrypted under a key
-- derived from the unlocked submission key; secure_delete zeroes what is deleted.

CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    designation TEXT NOT NULL UNIQUE,
    source_public_key BLOB NULL,         -- her X25519 public key (export v2), for replies
    channel TEXT NULL,                   -- web, sms, email, ... (export v2 or her report)
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    withdrawn_day TEXT NULL,             -- set when she withdrew; her items are gone then
    status TEXT NULL                     -- the staff interface's case status, when exported
);

CREATE TABLE items (
    id TEXT PRIMARY KEY,                 -- the server's item id (32 hex)
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('report', 'message', 'file', 'reply')),
    parent_id TEXT NULL,                 -- a file's report or message
    day TEXT NOT NULL,
    size INTEGER NOT NULL,               -- bytes of ciphertext
    lang TEXT NULL,
    document TEXT NULL,                  -- decrypted JSON of a report, message or reply
    error TEXT NULL,                     -- why it did not open, if it did not
    author TEXT NULL,                    -- replies written here: who wrote them
    origin TEXT NOT NULL DEFAULT 'import' CHECK (origin IN ('import', 'workstation')),
    sent INTEGER NOT NULL DEFAULT 1,     -- replies written here: 0 until in a reply bundle
    ciphertext BLOB NULL                 -- replies written here: the sealed envelope
) WITHOUT ROWID;

CREATE INDEX items_case ON items (case_id, day);
CREATE INDEX items_parent ON items (parent_id);
CREATE INDEX items_unsent ON items (sent) WHERE sent = 0;

CREATE TABLE files (
    item_id TEXT PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    name TEXT NULL,                      -- from the parent document's attachment list
    content_type TEXT NULL,
    plain_size INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE file_chunks (
    item_id TEXT NOT NULL REFERENCES files(item_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (item_id, seq)
) WITHOUT ROWID;

CREATE TABLE consent_decisions (
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    draft_id TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'refuse')),
    day TEXT NOT NULL,
    PRIMARY KEY (case_id, draft_id)
) WITHOUT ROWID;

CREATE TABLE imports (
    bundle_sha256 TEXT PRIMARY KEY,
    created_day TEXT NOT NULL,
    imported_day TEXT NOT NULL,
    items INTEGER NOT NULL,
    new_items INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE withdrawals (
    id TEXT PRIMARY KEY,                 -- the retraction notice's id
    case_id INTEGER NULL REFERENCES cases(id) ON DELETE SET NULL,
    designation TEXT NOT NULL,
    day TEXT NOT NULL
) WITHOUT ROWID;

-- Items a withdrawal deleted: never imported again from an older bundle.
CREATE TABLE withdrawn_items (
    item_id TEXT PRIMARY KEY
) WITHOUT ROWID;

-- Full-text index of every opened text (report, message, reply), one row per item.
CREATE VIRTUAL TABLE search_index USING fts5 (
    body,
    item_id UNINDEXED,
    case_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

INSERT INTO search_index (search_index, rank) VALUES ('secure-delete', 1);
