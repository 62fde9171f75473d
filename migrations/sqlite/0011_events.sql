-- The outbox and what reads it (SQLite: instants INTEGER microseconds, ids
-- BLOB, as in 0001): one row per event, written in the transaction of the
-- change it tells of, so an event exists if and only if its change
-- committed. `sequence` is assigned by the one writer, in commit order.
CREATE TABLE events (
    sequence INTEGER PRIMARY KEY,
    -- Stable: derived from what the event tells of (a re-publish or a
    -- second alert has the same id, and is refused here).
    id       BLOB    NOT NULL UNIQUE,
    type     TEXT    NOT NULL,
    party_id BLOB    NOT NULL,
    -- The resource, e.g. repatriations/<id>/steps/<id>.
    subject  TEXT    NOT NULL,
    time     INTEGER NOT NULL,
    -- The record the event carries, as JSON.
    payload  TEXT    NOT NULL
);
CREATE INDEX events_party ON events (party_id, sequence);

-- How far each consumer of the outbox (the NATS publisher, the webhook
-- fan-out) has got.
CREATE TABLE event_cursors (
    name        TEXT    PRIMARY KEY,
    sequence    INTEGER NOT NULL,
    update_time INTEGER NOT NULL
);

-- Work one replica does at a time: held by `holder` until `expires_at`,
-- renewed while it lives, taken over once it lapses.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Webhook endpoints, registered per party; deleted ones stay for their
-- deliveries' sake.
CREATE TABLE webhook_endpoints (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB    NOT NULL UNIQUE,
    party_id    BLOB    NOT NULL REFERENCES parties (id),
    url         TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    -- JSON array of event type names; empty: every type.
    types       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    -- It receives the events after this one (committed after it was
    -- registered).
    start_sequence INTEGER NOT NULL,
    create_time INTEGER NOT NULL,
    delete_time INTEGER
);
CREATE INDEX webhook_endpoints_party ON webhook_endpoints (party_id, seq);

-- One event to one endpoint: pending until delivered, or dead after the
-- last attempt failed (the dead-letter list), until replayed.
CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              BLOB    NOT NULL UNIQUE,
    endpoint_id     BLOB    NOT NULL REFERENCES webhook_endpoints (id),
    party_id        BLOB    NOT NULL,
    event_sequence  INTEGER NOT NULL REFERENCES events (sequence),
    status          TEXT    NOT NULL CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('PENDING', 'DELIVERED', 'DEAD')),
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    create_time     INTEGER NOT NULL,
    update_time     INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_sequence)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_party ON webhook_deliveries (party_id, seq);

-- Every attempt at a delivery, as it went.
CREATE TABLE webhook_attempts (
    delivery_id BLOB    NOT NULL REFERENCES webhook_deliveries (id),
    number      INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    -- The HTTP status, when one came back.
    status_code INTEGER,
    -- Why it failed, when it did.
    error       TEXT,
    micros      INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, number)
);
