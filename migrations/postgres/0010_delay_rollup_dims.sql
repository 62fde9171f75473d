-- The observations counted by every dimension an unfiltered question groups
-- by (measure, corridor, channel, institution, party kind, month, bucket):
-- what questions grouped by channel, institution or party kind read instead
-- of every observation (delay_rollup, by corridor and month only, stays the
-- smaller answer to the common question). Written as signed deltas with the
-- observations and compacted in the background, like delay_rollup; filled
-- here from the observations already stored.
CREATE TABLE delay_rollup_dims (
    id          BIGSERIAL PRIMARY KEY,
    measure     TEXT    NOT NULL,
    corridor    TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    institution TEXT,
    party_kind  TEXT    NOT NULL,
    month       TEXT    NOT NULL,
    bucket      INTEGER NOT NULL,
    n           BIGINT  NOT NULL,
    total       BIGINT  NOT NULL
);
CREATE INDEX delay_rollup_dims_month ON delay_rollup_dims (month, measure);
INSERT INTO delay_rollup_dims (measure, corridor, channel, institution, party_kind, month, bucket, n, total)
SELECT measure, corridor, channel, institution, party_kind, month, bucket, COUNT(*), SUM(micros)
FROM delay_observations
GROUP BY measure, corridor, channel, institution, party_kind, month, bucket;
