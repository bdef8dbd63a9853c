-- Səsim schema, version 6: reporting by SMS, e-mail, Messenger and X (issue 12).
-- No sender address and no text in plaintext, no time finer than the day.
-- A thread is found by a keyed hash of (channel, address): HMAC-SHA256 with a
-- key of secrets/thread.keys (key_version says which; rotatable). Her address
-- is kept only sealed to the channel key (channel.pub; secrets/channel.key is
-- read by the intake server alone), only after she opted in (opt_in = 1). Her
-- thread row (and with it the sealed address) is deleted when her case is closed
-- or she withdraws: the link between her number and her case does not outlive the
-- case (a later message starts a new case with a new receipt).

CREATE TABLE channel_threads (
    thread_hash     TEXT PRIMARY KEY,          -- hex HMAC-SHA256(thread key, channel 0x00 address)
    key_version     INTEGER NOT NULL,          -- the thread key that made thread_hash
    source_id       TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,             -- the provider she wrote through last
    lang            TEXT NOT NULL,             -- az, ru or en: her automatic answers' language
    opt_in          INTEGER NOT NULL DEFAULT 0,
    address         BLOB                       -- sealed to the channel key; NULL unless opt_in
) WITHOUT ROWID;

CREATE INDEX channel_threads_by_source ON channel_threads (source_id);

-- Replay marks: HMAC of (provider, message id); pruned after 30 days.
CREATE TABLE intake_seen (
    mark            TEXT PRIMARY KEY,
    day             TEXT NOT NULL
) WITHOUT ROWID;

-- Parts of a thread waiting to be joined into one report or message: the text
-- sealed to the reviewers and the channel key, the address to the channel key.
CREATE TABLE intake_parts (
    id              TEXT PRIMARY KEY,          -- random
    thread_hash     TEXT NOT NULL,
    n               INTEGER NOT NULL,          -- order within its thread
    sealed          BLOB NOT NULL,
    address         BLOB NOT NULL,
    UNIQUE (thread_hash, n)
) WITHOUT ROWID;

-- What the intake server sends: sealed to the channel key ({address?, text, lang});
-- a staff reply carries no address (resolved from her thread at delivery). A row
-- still queued after [intake] outbox_max_days (default 7) days is deleted.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,          -- random
    source_id       TEXT REFERENCES sources(id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    sealed          BLOB NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    day             TEXT NOT NULL              -- YYYY-MM-DD it was queued (days only)
) WITHOUT ROWID;

CREATE INDEX outbox_by_source ON outbox (source_id);
