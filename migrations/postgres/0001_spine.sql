-- Parties, earnings, repatriations and their steps, and the idempotency
-- record of every mutation. Money is NUMERIC; instants are TIMESTAMPTZ.

CREATE TABLE parties (
    seq           BIGSERIAL   NOT NULL UNIQUE,
    id            UUID        PRIMARY KEY,
    kind          TEXT        NOT NULL,
    legal_name    TEXT        NOT NULL,
    country       TEXT        NOT NULL,
    zone          TEXT        NOT NULL,
    memberships   TEXT        NOT NULL,   -- JSON array
    bank_accounts TEXT        NOT NULL,   -- JSON array
    create_time   TIMESTAMPTZ NOT NULL
);

CREATE TABLE earnings (
    seq               BIGSERIAL   NOT NULL UNIQUE,
    id                UUID        PRIMARY KEY,
    party_id          UUID        NOT NULL REFERENCES parties (id),
    client_name       TEXT        NOT NULL,
    client_country    TEXT        NOT NULL,
    service_category  TEXT        NOT NULL,
    amount            NUMERIC     NOT NULL CHECK (amount > 0),
    currency          TEXT        NOT NULL,
    allocated         NUMERIC     NOT NULL DEFAULT 0 CHECK (allocated >= 0 AND allocated <= amount),
    invoice_date      DATE        NOT NULL,
    due_date          DATE,
    invoice_reference TEXT        NOT NULL,
    marketplace       TEXT        NOT NULL,
    create_time       TIMESTAMPTZ NOT NULL,
    UNIQUE (party_id, invoice_reference)
);
CREATE INDEX earnings_party ON earnings (party_id, seq);

CREATE TABLE repatriations (
    seq             BIGSERIAL   NOT NULL UNIQUE,
    id              UUID        PRIMARY KEY,
    party_id        UUID        NOT NULL REFERENCES parties (id),
    channel         TEXT        NOT NULL,
    payer_country   TEXT        NOT NULL,
    expected_amount NUMERIC     NOT NULL,
    currency        TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    step_count      INTEGER     NOT NULL DEFAULT 0,
    create_time     TIMESTAMPTZ NOT NULL,
    update_time     TIMESTAMPTZ NOT NULL
);
CREATE INDEX repatriations_party ON repatriations (party_id, seq);
CREATE INDEX repatriations_status ON repatriations (status, seq);

CREATE TABLE allocations (
    repatriation_id UUID    NOT NULL REFERENCES repatriations (id),
    position        INTEGER NOT NULL,
    earning_id      UUID    NOT NULL REFERENCES earnings (id),
    amount          NUMERIC NOT NULL CHECK (amount > 0),
    currency        TEXT    NOT NULL,
    PRIMARY KEY (repatriation_id, position),
    UNIQUE (repatriation_id, earning_id)
);
CREATE INDEX allocations_earning ON allocations (earning_id);

CREATE TABLE steps (
    id              UUID        PRIMARY KEY,
    repatriation_id UUID        NOT NULL REFERENCES repatriations (id),
    kind            TEXT        NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    institution_bic TEXT,
    amount          NUMERIC,
    currency        TEXT,
    fees            TEXT        NOT NULL,   -- JSON array of {amount, currency, charged_by, kind}
    fx_source       TEXT,
    fx_target       TEXT,
    fx_rate         NUMERIC,
    end_to_end_id   TEXT,
    uetr            UUID,
    gpi_status      TEXT,
    reason_code     TEXT,
    note            TEXT        NOT NULL
);
CREATE INDEX steps_repatriation ON steps (repatriation_id, occurred_at);

-- One row per mutating request: the key, what it asked (a fingerprint) and
-- the response it got, written in the same transaction as its effects.
CREATE TABLE idempotency (
    request_id  UUID        PRIMARY KEY,
    principal   TEXT        NOT NULL,
    method      TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    response    TEXT,
    create_time TIMESTAMPTZ NOT NULL
);
