-- Delay metrics, kept in step with the journeys: recomputed for a journey
-- from its steps (see metrics_pending).
--
-- One row per observation: each wait between consecutive steps (named for
-- the step waited for) and each end-to-end span, with the dimensions
-- auditors group by. `bucket` is the duration's log bucket (computed by the
-- service, identical on both backends); `month` is the Dhaka month
-- ('YYYY-MM') the wait or span ended in.
CREATE TABLE delay_observations (
    repatriation_id BLOB        NOT NULL REFERENCES repatriations (id),
    position        INTEGER     NOT NULL,
    measure         TEXT        NOT NULL,
    end_at          INTEGER     NOT NULL,
    micros          INTEGER      NOT NULL,
    bucket          INTEGER     NOT NULL,
    institution     TEXT,
    corridor        TEXT        NOT NULL,
    channel         TEXT        NOT NULL,
    party_kind      TEXT        NOT NULL,
    party_id        BLOB        NOT NULL,
    month           TEXT        NOT NULL,
    PRIMARY KEY (repatriation_id, position)
);
CREATE INDEX delay_observations_month ON delay_observations (month, measure);
CREATE INDEX delay_observations_party ON delay_observations (party_id, month);

-- One row per repatriation: the instants the scorecard and the deadline
-- checks need. The fee share is in parts per million (exact at the six
-- places it is computed to), so sums are exact integers on both backends.
CREATE TABLE journey_summaries (
    repatriation_id       BLOB        PRIMARY KEY REFERENCES repatriations (id),
    corridor              TEXT        NOT NULL,
    channel               TEXT        NOT NULL,
    party_kind            TEXT        NOT NULL,
    party_id              BLOB        NOT NULL,
    invoice_date          TEXT        NOT NULL,
    initiated_at          INTEGER    ,
    funds_at              INTEGER    ,
    claim_filed_at        INTEGER    ,
    disbursed_at          INTEGER    ,
    ended_at              INTEGER    ,
    realized_on           DATE,
    realized_days         INTEGER,
    claim_days            INTEGER,
    initiation_to_funds   INTEGER,
    within_business_day   INTEGER,
    fee_share_ppm         INTEGER,
    month                 TEXT
);
CREATE INDEX journey_summaries_month ON journey_summaries (month, corridor);
CREATE INDEX journey_summaries_party ON journey_summaries (party_id);

-- Journeys whose metrics rows are behind their steps: recording a step only
-- adds its journey here; the rows are recomputed before any metrics read and
-- in the background, so ingestion does not pay for them.
CREATE TABLE metrics_pending (
    repatriation_id BLOB PRIMARY KEY REFERENCES repatriations (id)
);

-- The observations counted by (measure, corridor, month, bucket): what the
-- common grouped question reads instead of every observation. Written as
-- signed deltas when a journey's observations change (append-only, so
-- concurrent writers never wait on each other) and compacted in the
-- background.
CREATE TABLE delay_rollup (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    measure  TEXT    NOT NULL,
    corridor TEXT    NOT NULL,
    month    TEXT    NOT NULL,
    bucket   INTEGER NOT NULL,
    n        INTEGER  NOT NULL,
    total    INTEGER  NOT NULL
);
CREATE INDEX delay_rollup_month ON delay_rollup (month, measure);
