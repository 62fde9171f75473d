-- The audit trail: one entry per change, chained by SHA-256. Appended in the
-- same transaction as the change; never updated or deleted by the service.
CREATE TABLE audit_log (
    sequence      INTEGER PRIMARY KEY,
    time          INTEGER NOT NULL,
    subject       TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    resource      TEXT    NOT NULL,
    request_hash  TEXT    NOT NULL,
    request_id    BLOB    NOT NULL,
    previous_hash TEXT    NOT NULL,
    hash          TEXT    NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, sequence);
