-- The reviewer's own work on a case, encrypted at rest with the rest of the
-- case store (SQLCipher): private notes, tags, what she has read, and the safe
-- renderings of images and PDFs (so a file is rendered in the sandbox once).
-- A withdrawal removes all of it with her material (triggers below), whether
-- the case row is deleted or only marked withdrawn.

CREATE TABLE case_notes (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX case_notes_case ON case_notes(case_id);

CREATE TABLE case_tags (
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (case_id, tag)
);
CREATE INDEX case_tags_tag ON case_tags(tag);

CREATE TABLE item_reads (
    item_id TEXT PRIMARY KEY
);

CREATE TABLE renderings (
    item_id TEXT NOT NULL,
    page INTEGER NOT NULL,
    png BLOB NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    PRIMARY KEY (item_id, page)
);

CREATE TRIGGER casework_case_deleted AFTER DELETE ON cases BEGIN
    DELETE FROM case_notes WHERE case_id = OLD.id;
    DELETE FROM case_tags WHERE case_id = OLD.id;
END;

CREATE TRIGGER casework_case_withdrawn AFTER UPDATE OF withdrawn_day ON cases
WHEN NEW.withdrawn_day IS NOT NULL BEGIN
    DELETE FROM case_notes WHERE case_id = NEW.id;
    DELETE FROM case_tags WHERE case_id = NEW.id;
END;

CREATE TRIGGER casework_item_deleted AFTER DELETE ON items BEGIN
    DELETE FROM item_reads WHERE item_id = OLD.id;
    DELETE FROM renderings WHERE item_id = OLD.id;
END;
