-- Reconciliation: imported statements and their entries, the matches of
-- credits to earnings (automatic or by hand), and the exceptions of each
-- party's latest matching run. Each entry and match keeps its whole value
-- as JSON in `detail`; the columns beside it are copies for querying.

CREATE TABLE statements (
    seq         BIGSERIAL   PRIMARY KEY,
    id          UUID        NOT NULL UNIQUE,
    party_id    UUID        NOT NULL REFERENCES parties (id),
    format      TEXT        NOT NULL,
    sha256      TEXT        NOT NULL,
    message_id  TEXT        NOT NULL,
    account     TEXT        NOT NULL,
    import_time TIMESTAMPTZ NOT NULL,
    -- The same file is imported once per party.
    UNIQUE (party_id, sha256)
);

CREATE TABLE statement_entries (
    seq          BIGSERIAL PRIMARY KEY,
    id           UUID      NOT NULL UNIQUE,
    statement_id UUID      NOT NULL REFERENCES statements (id),
    party_id     UUID      NOT NULL REFERENCES parties (id),
    position     INTEGER   NOT NULL,
    kind         TEXT      NOT NULL,
    amount       NUMERIC   NOT NULL,
    currency     TEXT      NOT NULL,
    -- OPEN, SETTLED (matched) or HELD (unmatched by hand).
    state        TEXT      NOT NULL,
    detail       TEXT      NOT NULL,
    UNIQUE (statement_id, position)
);
CREATE INDEX statement_entries_party ON statement_entries (party_id, seq);

CREATE TABLE recon_matches (
    seq         BIGSERIAL   PRIMARY KEY,
    id          UUID        NOT NULL UNIQUE,
    credit_id   UUID        NOT NULL REFERENCES statement_entries (id),
    earning_id  UUID        NOT NULL REFERENCES earnings (id),
    party_id    UUID        NOT NULL REFERENCES parties (id),
    method      TEXT        NOT NULL,
    covered     NUMERIC     NOT NULL,
    currency    TEXT        NOT NULL,
    detail      TEXT        NOT NULL,
    create_time TIMESTAMPTZ NOT NULL
);
CREATE INDEX recon_matches_party ON recon_matches (party_id, seq);
CREATE INDEX recon_matches_earning ON recon_matches (earning_id);
CREATE INDEX recon_matches_credit ON recon_matches (credit_id);

CREATE TABLE recon_exceptions (
    seq        BIGSERIAL PRIMARY KEY,
    party_id   UUID      NOT NULL REFERENCES parties (id),
    credit_id  UUID      REFERENCES statement_entries (id),
    earning_id UUID      REFERENCES earnings (id),
    reason     TEXT      NOT NULL,
    detail     TEXT      NOT NULL
);
CREATE INDEX recon_exceptions_party ON recon_exceptions (party_id, seq);
