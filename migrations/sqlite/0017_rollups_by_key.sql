-- The rollups become one row per key, changed in place (an upsert adding
-- the delta) instead of a row per delta folded later: a round of metrics
-- writes as many rows either way, but nothing is then rewritten by
-- compaction, and the tables stay the size of their keys (WITHOUT ROWID:
-- the rows live in the key's own B-tree). Only keys whose sums are all
-- zero are cleared in the background.
--
-- An observation without an institution is keyed by '' (a key column
-- cannot be NULL); reads turn it back into NULL.
CREATE TABLE delay_rollup_keyed (
    month    TEXT    NOT NULL,
    measure  TEXT    NOT NULL,
    corridor TEXT    NOT NULL,
    bucket   INTEGER NOT NULL,
    n        INTEGER  NOT NULL,
    total    INTEGER  NOT NULL,
    PRIMARY KEY (month, measure, corridor, bucket)
) WITHOUT ROWID;
INSERT INTO delay_rollup_keyed (month, measure, corridor, bucket, n, total)
SELECT month, measure, corridor, bucket, SUM(n), SUM(total)
FROM delay_rollup GROUP BY month, measure, corridor, bucket
HAVING SUM(n) <> 0 OR SUM(total) <> 0;
DROP TABLE delay_rollup;
ALTER TABLE delay_rollup_keyed RENAME TO delay_rollup;

CREATE TABLE delay_rollup_dims_keyed (
    measure     TEXT    NOT NULL,
    corridor    TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    institution TEXT    NOT NULL,
    party_kind  TEXT    NOT NULL,
    bucket      INTEGER NOT NULL,
    n           INTEGER  NOT NULL,
    total       INTEGER  NOT NULL,
    PRIMARY KEY (measure, corridor, channel, institution, party_kind, bucket)
) WITHOUT ROWID;
INSERT INTO delay_rollup_dims_keyed (measure, corridor, channel, institution, party_kind, bucket, n, total)
SELECT measure, corridor, channel, COALESCE(institution, ''), party_kind, bucket, SUM(n), SUM(total)
FROM delay_rollup_dims GROUP BY measure, corridor, channel, COALESCE(institution, ''), party_kind, bucket
HAVING SUM(n) <> 0 OR SUM(total) <> 0;
DROP TABLE delay_rollup_dims;
ALTER TABLE delay_rollup_dims_keyed RENAME TO delay_rollup_dims;

CREATE TABLE scorecard_rollup_keyed (
    month               TEXT   NOT NULL,
    corridor            TEXT   NOT NULL,
    completed           INTEGER NOT NULL,
    within_hour         INTEGER NOT NULL,
    within_business_day INTEGER NOT NULL,
    costed              INTEGER NOT NULL,
    fee_share_ppm_sum   INTEGER NOT NULL,
    PRIMARY KEY (month, corridor)
) WITHOUT ROWID;
INSERT INTO scorecard_rollup_keyed (month, corridor, completed, within_hour, within_business_day, costed, fee_share_ppm_sum)
SELECT month, corridor, SUM(completed), SUM(within_hour), SUM(within_business_day), SUM(costed), SUM(fee_share_ppm_sum)
FROM scorecard_rollup GROUP BY month, corridor
HAVING SUM(completed) <> 0 OR SUM(within_hour) <> 0 OR SUM(within_business_day) <> 0 OR SUM(costed) <> 0 OR SUM(fee_share_ppm_sum) <> 0;
DROP TABLE scorecard_rollup;
ALTER TABLE scorecard_rollup_keyed RENAME TO scorecard_rollup;

-- The observations over every month by measure and corridor alone: the
-- most asked question, which would otherwise sum delay_rollup_dims' rows
-- of every channel, institution and party kind in the read.
CREATE TABLE delay_rollup_corridor (
    measure  TEXT    NOT NULL,
    corridor TEXT    NOT NULL,
    bucket   INTEGER NOT NULL,
    n        INTEGER  NOT NULL,
    total    INTEGER  NOT NULL,
    PRIMARY KEY (measure, corridor, bucket)
) WITHOUT ROWID;
INSERT INTO delay_rollup_corridor (measure, corridor, bucket, n, total)
SELECT measure, corridor, bucket, SUM(n), SUM(total)
FROM delay_rollup_dims GROUP BY measure, corridor, bucket
HAVING SUM(n) <> 0 OR SUM(total) <> 0;
