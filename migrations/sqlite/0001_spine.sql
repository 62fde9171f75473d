-- Parties, earnings, repatriations and their steps, and the idempotency
-- record of every mutation. Money is canonical decimal TEXT (summed in Rust,
-- never with SQL SUM); instants are INTEGER microseconds since the Unix
-- epoch; dates are 'YYYY-MM-DD' TEXT; ids are 16-byte UUID BLOBs.

CREATE TABLE parties (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            BLOB    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL,
    legal_name    TEXT    NOT NULL,
    country       TEXT    NOT NULL,
    zone          TEXT    NOT NULL,
    memberships   TEXT    NOT NULL,
    bank_accounts TEXT    NOT NULL,
    create_time   INTEGER NOT NULL
);

CREATE TABLE earnings (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                BLOB    NOT NULL UNIQUE,
    party_id          BLOB    NOT NULL REFERENCES parties (id),
    client_name       TEXT    NOT NULL,
    client_country    TEXT    NOT NULL,
    service_category  TEXT    NOT NULL,
    amount            TEXT    NOT NULL,
    currency          TEXT    NOT NULL,
    allocated         TEXT    NOT NULL DEFAULT '0',
    invoice_date      TEXT    NOT NULL,
    due_date          TEXT,
    invoice_reference TEXT    NOT NULL,
    marketplace       TEXT    NOT NULL,
    create_time       INTEGER NOT NULL,
    UNIQUE (party_id, invoice_reference)
);
CREATE INDEX earnings_party ON earnings (party_id, seq);

CREATE TABLE repatriations (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              BLOB    NOT NULL UNIQUE,
    party_id        BLOB    NOT NULL REFERENCES parties (id),
    channel         TEXT    NOT NULL,
    payer_country   TEXT    NOT NULL,
    expected_amount TEXT    NOT NULL,
    currency        TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    step_count      INTEGER NOT NULL DEFAULT 0,
    create_time     INTEGER NOT NULL,
    update_time     INTEGER NOT NULL
);
CREATE INDEX repatriations_party ON repatriations (party_id, seq);
CREATE INDEX repatriations_status ON repatriations (status, seq);

CREATE TABLE allocations (
    repatriation_id BLOB    NOT NULL REFERENCES repatriations (id),
    position        INTEGER NOT NULL,
    earning_id      BLOB    NOT NULL REFERENCES earnings (id),
    amount          TEXT    NOT NULL,
    currency        TEXT    NOT NULL,
    PRIMARY KEY (repatriation_id, position),
    UNIQUE (repatriation_id, earning_id)
);
CREATE INDEX allocations_earning ON allocations (earning_id);

CREATE TABLE steps (
    id              BLOB    PRIMARY KEY,
    repatriation_id BLOB    NOT NULL REFERENCES repatriations (id),
    kind            TEXT    NOT NULL,
    occurred_at     INTEGER NOT NULL,
    recorded_at     INTEGER NOT NULL,
    institution_bic TEXT,
    amount          TEXT,
    currency        TEXT,
    fees            TEXT    NOT NULL,
    fx_source       TEXT,
    fx_target       TEXT,
    fx_rate         TEXT,
    end_to_end_id   TEXT,
    uetr            BLOB,
    gpi_status      TEXT,
    reason_code     TEXT,
    note            TEXT    NOT NULL
);
CREATE INDEX steps_repatriation ON steps (repatriation_id, occurred_at);

CREATE TABLE idempotency (
    request_id  BLOB    PRIMARY KEY,
    principal   TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    response    TEXT,
    create_time INTEGER NOT NULL
);
