-- The cash incentive: the rule sets the service has loaded (kept forever, so
-- an old assessment can always show the rules it was made under), the
-- assessments, and claims with their items and steps.

CREATE TABLE rule_sets (
    version     TEXT        PRIMARY KEY,
    name        TEXT        NOT NULL,
    sha256      TEXT        NOT NULL,
    source_toml TEXT        NOT NULL,
    load_time   TIMESTAMPTZ NOT NULL
);

CREATE TABLE assessments (
    seq              BIGSERIAL   PRIMARY KEY,
    id               UUID        NOT NULL UNIQUE,
    repatriation_id  UUID        NOT NULL REFERENCES repatriations (id),
    party_id         UUID        NOT NULL REFERENCES parties (id),
    rule_set_version TEXT        NOT NULL REFERENCES rule_sets (version),
    eligible         BOOLEAN     NOT NULL,
    programme        TEXT,
    incentive_bdt    NUMERIC     NOT NULL,
    realized_on      DATE,
    claim_deadline   DATE,
    detail           TEXT        NOT NULL,
    assess_time      TIMESTAMPTZ NOT NULL
);
CREATE INDEX assessments_repatriation ON assessments (repatriation_id, seq);
CREATE INDEX assessments_party ON assessments (party_id, seq);

CREATE TABLE claims (
    seq         BIGSERIAL   PRIMARY KEY,
    id          UUID        NOT NULL UNIQUE,
    party_id    UUID        NOT NULL REFERENCES parties (id),
    programme   TEXT        NOT NULL,
    status      TEXT        NOT NULL,
    claimed     NUMERIC     NOT NULL,
    disbursed   NUMERIC,
    create_time TIMESTAMPTZ NOT NULL,
    update_time TIMESTAMPTZ NOT NULL
);
CREATE INDEX claims_party ON claims (party_id, seq);

-- A repatriation is claimed at most once: the primary key says so.
CREATE TABLE claim_items (
    repatriation_id UUID    PRIMARY KEY REFERENCES repatriations (id),
    claim_id        UUID    NOT NULL REFERENCES claims (id),
    position        INTEGER NOT NULL,
    assessment_id   UUID    NOT NULL REFERENCES assessments (id),
    incentive_bdt   NUMERIC NOT NULL,
    UNIQUE (claim_id, position)
);

CREATE TABLE claim_steps (
    claim_id    UUID        NOT NULL REFERENCES claims (id),
    position    INTEGER     NOT NULL,
    kind        TEXT        NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    reason      TEXT,
    amount      NUMERIC,
    PRIMARY KEY (claim_id, position)
);
