-- The metrics rows are derived: written only by the round that has just
-- locked their repatriation (which is never deleted) and recomputed from
-- its steps. Their foreign keys checked nothing that could fail, and cost
-- a lookup per row written. Steps, the primary record, keep theirs.
-- SQLite drops a foreign key by rebuilding the table.
CREATE TABLE delay_observations_new (
    repatriation_id BLOB        NOT NULL,
    position        INTEGER     NOT NULL,
    measure         TEXT        NOT NULL,
    end_at          INTEGER     NOT NULL,
    micros          INTEGER     NOT NULL,
    bucket          INTEGER     NOT NULL,
    institution     TEXT,
    corridor        TEXT        NOT NULL,
    channel         TEXT        NOT NULL,
    party_kind      TEXT        NOT NULL,
    party_id        BLOB        NOT NULL,
    month           TEXT        NOT NULL,
    PRIMARY KEY (repatriation_id, position)
);
INSERT INTO delay_observations_new SELECT * FROM delay_observations;
DROP TABLE delay_observations;
ALTER TABLE delay_observations_new RENAME TO delay_observations;
CREATE INDEX delay_observations_month ON delay_observations (month, measure);
CREATE INDEX delay_observations_party ON delay_observations (party_id, month);

CREATE TABLE journey_summaries_new (
    repatriation_id       BLOB        PRIMARY KEY,
    corridor              TEXT        NOT NULL,
    channel               TEXT        NOT NULL,
    party_kind            TEXT        NOT NULL,
    party_id              BLOB        NOT NULL,
    invoice_date          TEXT        NOT NULL,
    initiated_at          INTEGER,
    funds_at              INTEGER,
    claim_filed_at        INTEGER,
    disbursed_at          INTEGER,
    ended_at              INTEGER,
    realized_on           DATE,
    realized_days         INTEGER,
    claim_days            INTEGER,
    initiation_to_funds   INTEGER,
    within_business_day   INTEGER,
    fee_share_ppm         INTEGER,
    month                 TEXT
);
INSERT INTO journey_summaries_new SELECT * FROM journey_summaries;
DROP TABLE journey_summaries;
ALTER TABLE journey_summaries_new RENAME TO journey_summaries;
CREATE INDEX journey_summaries_month ON journey_summaries (month, corridor);
CREATE INDEX journey_summaries_party ON journey_summaries (party_id);

CREATE TABLE metrics_pending_new (
    repatriation_id BLOB PRIMARY KEY
);
INSERT INTO metrics_pending_new SELECT * FROM metrics_pending;
DROP TABLE metrics_pending;
ALTER TABLE metrics_pending_new RENAME TO metrics_pending;
