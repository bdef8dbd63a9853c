-- Səsim schema, version 5: a case status per source, for routing in the
-- staff inbox (new, in progress, legal aid offered, referred, closed; the
-- codes and their labels are in taxonomy.py, CASE_STATUSES). Metadata like
-- the star: no content, no time. Every source already stored starts as
-- 'new'. Changes are audited (action case_status: designation, old, new).

ALTER TABLE sources ADD COLUMN case_status TEXT NOT NULL DEFAULT 'new'
    CHECK (case_status IN ('new', 'in_progress', 'aid_offered', 'referred', 'closed'));
CREATE INDEX sources_by_case_status ON sources (case_status);
