-- no-transaction
-- The CHECK constraints PostgreSQL has had since 0001: an earning's amount
-- and an allocation's amount are positive, and what an earning has
-- allocated stays between zero and its amount. SQLite adds a constraint
-- only by rebuilding the table (https://sqlite.org/lang_altertable.html,
-- "other kinds of table schema changes"), with foreign keys off and the
-- rebuild in one transaction of its own; so this migration runs outside
-- sqlx's transaction (the first line says so, as in sqlx's own files).
-- Re-running it after a crash does it again, harmlessly.
--
-- The constraints have PostgreSQL's names (its own for the allocated
-- check, which spans two columns, is earnings_check).
--
-- Money is decimal TEXT: it is compared as a number (CAST AS NUMERIC, an
-- integer or a double), whose rounding is monotonic, so a valid row is
-- never refused; the exact rule is enforced in the service.

PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

DROP TABLE IF EXISTS earnings_new;
CREATE TABLE earnings_new (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                BLOB    NOT NULL UNIQUE,
    party_id          BLOB    NOT NULL REFERENCES parties (id),
    client_name       TEXT    NOT NULL,
    client_country    TEXT    NOT NULL,
    service_category  TEXT    NOT NULL,
    amount            TEXT    NOT NULL CONSTRAINT earnings_amount_check CHECK (CAST(amount AS NUMERIC) > 0),
    currency          TEXT    NOT NULL,
    allocated         TEXT    NOT NULL DEFAULT '0'
                      CONSTRAINT earnings_check CHECK (CAST(allocated AS NUMERIC) >= 0 AND CAST(allocated AS NUMERIC) <= CAST(amount AS NUMERIC)),
    invoice_date      TEXT    NOT NULL,
    due_date          TEXT,
    invoice_reference TEXT    NOT NULL,
    marketplace       TEXT    NOT NULL,
    create_time       INTEGER NOT NULL,
    UNIQUE (party_id, invoice_reference)
);
INSERT INTO earnings_new (seq, id, party_id, client_name, client_country, service_category, amount, currency, allocated,
                          invoice_date, due_date, invoice_reference, marketplace, create_time)
SELECT seq, id, party_id, client_name, client_country, service_category, amount, currency, allocated,
       invoice_date, due_date, invoice_reference, marketplace, create_time
FROM earnings;
DROP TABLE earnings;
ALTER TABLE earnings_new RENAME TO earnings;
CREATE INDEX earnings_party ON earnings (party_id, seq);
CREATE INDEX earnings_invoice_reference ON earnings (invoice_reference);

DROP TABLE IF EXISTS allocations_new;
CREATE TABLE allocations_new (
    repatriation_id BLOB    NOT NULL REFERENCES repatriations (id),
    position        INTEGER NOT NULL,
    earning_id      BLOB    NOT NULL REFERENCES earnings (id),
    amount          TEXT    NOT NULL CONSTRAINT allocations_amount_check CHECK (CAST(amount AS NUMERIC) > 0),
    currency        TEXT    NOT NULL,
    PRIMARY KEY (repatriation_id, position),
    UNIQUE (repatriation_id, earning_id)
);
INSERT INTO allocations_new (repatriation_id, position, earning_id, amount, currency)
SELECT repatriation_id, position, earning_id, amount, currency FROM allocations;
DROP TABLE allocations;
ALTER TABLE allocations_new RENAME TO allocations;
CREATE INDEX allocations_earning ON allocations (earning_id);

COMMIT;
PRAGMA foreign_keys = ON;
