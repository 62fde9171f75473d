-- Rollups for the questions that would otherwise read every observation or
-- every summary, kept like delay_rollup: signed deltas written with the
-- rows they count, compacted in the background, filled here from the rows
-- already stored. No key column: nothing looks a row up, and every delta
-- is one more row to index.
--
-- The observations counted over every month by all the other dimensions:
-- what a question not filtered by month nor party reads, whatever it groups
-- by (months multiply delay_rollup's rows by the months kept).
CREATE TABLE delay_rollup_dims (
    measure     TEXT    NOT NULL,
    corridor    TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    institution TEXT,
    party_kind  TEXT    NOT NULL,
    bucket      INTEGER NOT NULL,
    n           BIGINT  NOT NULL,
    total       BIGINT  NOT NULL
);
INSERT INTO delay_rollup_dims (measure, corridor, channel, institution, party_kind, bucket, n, total)
SELECT measure, corridor, channel, institution, party_kind, bucket, COUNT(*), SUM(micros)
FROM delay_observations
GROUP BY measure, corridor, channel, institution, party_kind, bucket;

-- The scorecard's counts by corridor and month, of completed journeys
-- (initiated, funds available): what the scorecard of every party reads.
CREATE TABLE scorecard_rollup (
    corridor            TEXT   NOT NULL,
    month               TEXT   NOT NULL,
    completed           BIGINT NOT NULL,
    within_hour         BIGINT NOT NULL,
    within_business_day BIGINT NOT NULL,
    costed              BIGINT NOT NULL,
    fee_share_ppm_sum   BIGINT NOT NULL
);
CREATE INDEX scorecard_rollup_month ON scorecard_rollup (month, corridor);
-- The hour is metrics_rows::WITHIN_HOUR_MICROS.
INSERT INTO scorecard_rollup (corridor, month, completed, within_hour, within_business_day, costed, fee_share_ppm_sum)
SELECT corridor, month, COUNT(*),
       SUM(CASE WHEN initiation_to_funds <= 3600000000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN within_business_day THEN 1 ELSE 0 END),
       COUNT(fee_share_ppm), COALESCE(SUM(fee_share_ppm), 0)
FROM journey_summaries
WHERE month IS NOT NULL AND funds_at IS NOT NULL
GROUP BY corridor, month;
