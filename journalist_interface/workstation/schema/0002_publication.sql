-- Publication: drafts of public entries, the redaction hits kept on purpose, what was
-- published in which bundle, retractions waiting for the next bundle, and the chain of
-- bundles written (sequence, SHA-256 of each file, the file itself, which is public).

CREATE TABLE drafts (
    id TEXT PRIMARY KEY,                 -- 32 hex, random; also the draft_id she approves
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    created_day TEXT NOT NULL,
    types TEXT NOT NULL DEFAULT '[]',    -- JSON list of harassment type codes
    district TEXT NULL,                  -- district code, 'online', or NULL
    point_kind TEXT NULL CHECK (point_kind IN ('cell', 'station')),
    lat_e6 INTEGER NULL,                 -- the published (coarse) point, never hers
    lon_e6 INTEGER NULL,
    month TEXT NULL,                     -- YYYY-MM
    perpetrator TEXT NULL,
    service TEXT NULL,
    language TEXT NOT NULL DEFAULT 'az',
    summary TEXT NOT NULL DEFAULT '',
    story TEXT NULL,
    consent_sha256 TEXT NULL,            -- of the text sent to her for approval
    status TEXT NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'accepted', 'published')),
    public_id TEXT NULL UNIQUE,          -- random, given when accepted
    published_sequence INTEGER NULL
) WITHOUT ROWID;

CREATE INDEX drafts_case ON drafts (case_id);

-- A redaction hit the reviewer keeps on purpose, with her reason. It applies while the
-- same text of the same kind is in the same field of the draft.
CREATE TABLE kept_hits (
    draft_id TEXT NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
    field TEXT NOT NULL CHECK (field IN ('summary', 'story')),
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    PRIMARY KEY (draft_id, field, kind, text)
) WITHOUT ROWID;

-- Every public id ever published; kept after a withdrawal deletes her drafts, so the
-- retraction can name it. No foreign key: it outlives the case.
CREATE TABLE published_entries (
    public_id TEXT PRIMARY KEY,
    case_id INTEGER NULL,
    sequence INTEGER NOT NULL,           -- the bundle that published it
    retracted_sequence INTEGER NULL      -- the bundle that retracted it
) WITHOUT ROWID;

CREATE TABLE retraction_queue (
    public_id TEXT PRIMARY KEY REFERENCES published_entries(public_id),
    queued_day TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE publications (
    sequence INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,         -- of the file: the next bundle's previous
    created_day TEXT NOT NULL,
    entries INTEGER NOT NULL,
    retractions INTEGER NOT NULL,
    bundle BLOB NOT NULL                 -- the file, to write it again if it was lost
);
