-- What the ordering rules need of a journey, kept beside it so recording a
-- step never reads the journey's other steps: per kind, how many steps and
-- the earliest and latest (JSON, see repat_core::journey::Summary). NULL for
-- journeys recorded before it was kept: their next step computes it from the
-- steps, once.
ALTER TABLE repatriations ADD COLUMN step_summary TEXT;

-- The audit chain's newest entry, in one row: an append locks this row (so
-- entries are chained in commit order) and reads the head in one statement,
-- and moves it in the statement that inserts the entries.
CREATE TABLE audit_head (
    id       INTEGER PRIMARY KEY,
    sequence INTEGER  NOT NULL,
    hash     TEXT    NOT NULL
);
INSERT INTO audit_head (id, sequence, hash)
SELECT 1, COALESCE(MAX(sequence), 0),
       COALESCE((SELECT hash FROM audit_log ORDER BY sequence DESC LIMIT 1),
                '0000000000000000000000000000000000000000000000000000000000000000')
FROM audit_log;
