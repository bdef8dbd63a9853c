-- Consent requests: each request sent to her has its own id (the "draft_id" she sees in
-- the sealed reply and that her decision names), with the hash of the exact text she was
-- shown. A decision counts only for the request it answers; a new request for a draft
-- supersedes the older ones (their approvals no longer count).

CREATE TABLE consent_requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- order in which requests were made
    id TEXT NOT NULL UNIQUE,                -- 32 hex, fresh per request
    draft_id TEXT NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
    text_sha256 TEXT NOT NULL,              -- of the whole entry as shown to her
    reply_id TEXT NULL,                     -- the reply that carries it; NULL: not sent
    day TEXT NOT NULL
);

CREATE INDEX consent_requests_draft ON consent_requests (draft_id);

-- Requests made before this schema named the draft itself.
INSERT INTO consent_requests (id, draft_id, text_sha256, reply_id, day)
    SELECT id, id, consent_sha256, '', created_day FROM drafts WHERE consent_sha256 IS NOT NULL;

-- The newest request's seq when the decision arrived (or last changed): a refusal of an
-- older request that arrives after a newer request was made still blocks the entry.
ALTER TABLE consent_decisions ADD COLUMN seen_after INTEGER NOT NULL DEFAULT 0;
