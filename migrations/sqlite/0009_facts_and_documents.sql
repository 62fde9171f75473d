-- Facts about a party that change over time (its zone, association
-- memberships, bank accounts), each change with the first day it applies;
-- the party's own columns keep the values it was registered with. And the
-- documents firms hold (the files stay with them), against the party, an
-- earning or a repatriation. Instants INTEGER microseconds, dates TEXT,
-- as in 0001.

CREATE TABLE party_facts (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             BLOB    NOT NULL UNIQUE,
    party_id       BLOB    NOT NULL REFERENCES parties (id),
    kind           TEXT    NOT NULL,
    effective_from TEXT    NOT NULL,
    value          TEXT    NOT NULL,
    previous       TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    recorded_by    TEXT    NOT NULL,
    record_time    INTEGER NOT NULL,
    CONSTRAINT party_facts_kind_check CHECK (kind IN ('ZONE', 'MEMBERSHIPS', 'BANK_ACCOUNTS'))
);
CREATE INDEX party_facts_party ON party_facts (party_id, seq);

CREATE TABLE documents (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              BLOB    NOT NULL UNIQUE,
    party_id        BLOB    NOT NULL REFERENCES parties (id),
    earning_id      BLOB    REFERENCES earnings (id),
    repatriation_id BLOB    REFERENCES repatriations (id),
    kind            TEXT    NOT NULL,
    reference       TEXT    NOT NULL,
    issue_date      TEXT    NOT NULL,
    issuer          TEXT    NOT NULL,
    valid_from      TEXT,
    valid_until     TEXT,
    content_sha256  TEXT,
    recorded_by     TEXT    NOT NULL,
    record_time     INTEGER NOT NULL,
    -- A document's reference names one document of its kind per party.
    CONSTRAINT documents_party_kind_reference UNIQUE (party_id, kind, reference),
    CONSTRAINT documents_one_record_check CHECK (earning_id IS NULL OR repatriation_id IS NULL),
    CONSTRAINT documents_validity_check CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until)
);
CREATE INDEX documents_party ON documents (party_id, seq);
CREATE INDEX documents_earning ON documents (earning_id);
CREATE INDEX documents_repatriation ON documents (repatriation_id);
