-- Səsim schema, version 2: Legal Centre staff accounts, their audit log and
-- login throttling; columns and tables the staff inbox needs.
-- Staff are not sources: their actions may be recorded to the minute, and
-- by name, because a lawyer's account of what she did is the point of an
-- audit log. Nothing here holds report text or a source's lookup id.

CREATE TABLE staff (
    id              TEXT PRIMARY KEY,          -- random
    username        TEXT NOT NULL UNIQUE,      -- 3 to 32 of [a-z0-9._-]
    password_hash   TEXT NOT NULL,             -- libsodium Argon2id string (salt and costs inside)
    totp_secret     TEXT NOT NULL,             -- base32, 160 bits
    is_admin        INTEGER NOT NULL DEFAULT 0,
    disabled        INTEGER NOT NULL DEFAULT 0,
    generation      INTEGER NOT NULL DEFAULT 1, -- bumped to end every session of the account
    last_totp_step  INTEGER NOT NULL DEFAULT 0, -- newest TOTP step used: replay protection
    language        TEXT NOT NULL DEFAULT 'az',
    created_day     TEXT NOT NULL              -- YYYY-MM-DD
) WITHOUT ROWID;

-- Who on the staff did what. `staff` is a username, or NULL for the server's
-- command line; `target` is a username, a source designation or an item id,
-- never content and never a lookup id. `at` is a UTC minute, YYYY-MM-DDTHH:MMZ.
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    staff           TEXT,
    action          TEXT NOT NULL,
    target          TEXT
);

-- Recent login attempts that did not succeed, shared by every server
-- process so throttling holds whichever process a request reaches.
-- `key` names the account tried ("user:<name>"); rows older than the
-- throttling window are pruned.
CREATE TABLE login_failures (
    key             TEXT NOT NULL,
    at              REAL NOT NULL              -- seconds since the epoch
);

CREATE INDEX login_failures_by_key ON login_failures (key, at);

-- The staff inbox: star and assign sources, newest activity first, and
-- remember which items went to the workstation.
ALTER TABLE sources ADD COLUMN starred INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN assigned_to TEXT;          -- a staff username
CREATE INDEX sources_by_activity ON sources (activity_day, id);
ALTER TABLE items ADD COLUMN exported INTEGER NOT NULL DEFAULT 0;

-- Reply templates (acknowledgement, offer of legal help...), one per
-- language, editable by admins.
CREATE TABLE reply_templates (
    code            TEXT NOT NULL,
    lang            TEXT NOT NULL,
    body            TEXT NOT NULL,
    PRIMARY KEY (code, lang)
) WITHOUT ROWID;
