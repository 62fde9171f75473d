-- Corrections: a record is amended or voided by appending a revision that
-- keeps who changed it, when, why, and the record before and after (JSON);
-- the record's row holds its current revision. Revisions are never updated
-- or deleted. `resource` is the record's name, e.g. 'earnings/<id>'.
CREATE TABLE revisions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    resource    TEXT    NOT NULL,
    revision    INTEGER NOT NULL CONSTRAINT revisions_revision_check CHECK (revision > 1),
    party_id    BLOB    NOT NULL REFERENCES parties (id),
    action      TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    request_id  BLOB    NOT NULL,
    time        INTEGER NOT NULL,
    before_json TEXT    NOT NULL,
    after_json  TEXT    NOT NULL,
    -- The fields the revision changed, comma-separated (API names).
    fields      TEXT    NOT NULL,
    UNIQUE (resource, revision)
);

-- An earning's current revision (1 as recorded), and when and why it was
-- voided. A voided earning keeps its invoice reference; repatriations and
-- the matcher no longer take it.
ALTER TABLE earnings ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE earnings ADD COLUMN void_time INTEGER;
ALTER TABLE earnings ADD COLUMN void_reason TEXT;

-- A step voided (recorded by mistake) or superseded by a corrected one: kept,
-- with when and why, but no longer part of its journey.
ALTER TABLE steps ADD COLUMN void_time INTEGER;
ALTER TABLE steps ADD COLUMN void_reason TEXT;

-- An assessment made on a journey corrected since: kept, with its figures
-- and rule set version, but no longer the journey's current one. The
-- revision of the journey that made it so ('repatriations/<id>/revisions/N').
ALTER TABLE assessments ADD COLUMN superseded_by TEXT;

-- A statement voided (imported for the wrong party, or by mistake): kept,
-- with when and why; its entries are no longer matched, its matches are
-- removed and the steps they recorded voided.
ALTER TABLE statements ADD COLUMN void_time INTEGER;
ALTER TABLE statements ADD COLUMN void_reason TEXT;
