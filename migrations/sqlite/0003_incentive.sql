-- The cash incentive: the rule sets the service has loaded (kept forever, so
-- an old assessment can always show the rules it was made under), the
-- assessments, and claims with their items and steps. Money is canonical
-- decimal TEXT, instants INTEGER microseconds, dates TEXT, as in 0001.

CREATE TABLE rule_sets (
    version     TEXT        PRIMARY KEY,
    name        TEXT        NOT NULL,
    sha256      TEXT        NOT NULL,
    source_toml TEXT        NOT NULL,
    load_time   INTEGER     NOT NULL
);

CREATE TABLE assessments (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               BLOB        NOT NULL UNIQUE,
    repatriation_id  BLOB        NOT NULL REFERENCES repatriations (id),
    party_id         BLOB        NOT NULL REFERENCES parties (id),
    rule_set_version TEXT        NOT NULL REFERENCES rule_sets (version),
    eligible         INTEGER     NOT NULL,
    programme        TEXT,
    incentive_bdt    TEXT        NOT NULL,
    realized_on      TEXT,
    claim_deadline   TEXT,
    detail           TEXT        NOT NULL,
    assess_time      INTEGER     NOT NULL
);
CREATE INDEX assessments_repatriation ON assessments (repatriation_id, seq);
CREATE INDEX assessments_party ON assessments (party_id, seq);

CREATE TABLE claims (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB        NOT NULL UNIQUE,
    party_id    BLOB        NOT NULL REFERENCES parties (id),
    programme   TEXT        NOT NULL,
    status      TEXT        NOT NULL,
    claimed     TEXT        NOT NULL,
    disbursed   TEXT,
    create_time INTEGER     NOT NULL,
    update_time INTEGER     NOT NULL
);
CREATE INDEX claims_party ON claims (party_id, seq);

-- A repatriation is claimed at most once: the primary key says so.
CREATE TABLE claim_items (
    repatriation_id BLOB    PRIMARY KEY REFERENCES repatriations (id),
    claim_id        BLOB    NOT NULL REFERENCES claims (id),
    position        INTEGER NOT NULL,
    assessment_id   BLOB    NOT NULL REFERENCES assessments (id),
    incentive_bdt   TEXT    NOT NULL,
    UNIQUE (claim_id, position)
);

CREATE TABLE claim_steps (
    claim_id    BLOB        NOT NULL REFERENCES claims (id),
    position    INTEGER     NOT NULL,
    kind        TEXT        NOT NULL,
    occurred_at INTEGER     NOT NULL,
    recorded_at INTEGER     NOT NULL,
    reason      TEXT,
    amount      TEXT,
    PRIMARY KEY (claim_id, position)
);
