-- Idempotency keys are scoped by tenant and method: a request id is one
-- tenant's, for one method, so no caller can take another's. Keys stored
-- before keep the empty scope, which the service reads as they were meant
-- then: the request id held for everyone. SQLite changes a primary key
-- only by rebuilding the table (nothing refers to this one).
CREATE TABLE idempotency_scoped (
    request_id  BLOB    NOT NULL,
    principal   TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    response    TEXT,
    create_time INTEGER NOT NULL,
    scope       TEXT    NOT NULL,
    PRIMARY KEY (request_id, scope, method)
);
INSERT INTO idempotency_scoped (request_id, principal, method, fingerprint, response, create_time, scope)
    SELECT request_id, principal, method, fingerprint, response, create_time, '' FROM idempotency;
DROP TABLE idempotency;
ALTER TABLE idempotency_scoped RENAME TO idempotency;
