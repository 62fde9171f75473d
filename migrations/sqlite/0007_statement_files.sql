-- no-transaction
-- A statement file may hold several statements (several accounts, or
-- several periods of one account): each is stored as its own statement,
-- numbered by `part` in file order. The same file is still imported once
-- per party: its statements share the file's SHA-256.
--
-- SQLite cannot drop the table's UNIQUE (party_id, sha256), so the table
-- is rebuilt as SQLite documents (ALTER TABLE, "other kinds of table
-- schema changes"): with foreign keys off, outside and then inside one
-- transaction, checked before it commits.

PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE statements_new (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB        NOT NULL UNIQUE,
    party_id    BLOB        NOT NULL REFERENCES parties (id),
    format      TEXT        NOT NULL,
    sha256      TEXT        NOT NULL,
    part        INTEGER     NOT NULL DEFAULT 0,
    message_id  TEXT        NOT NULL,
    account     TEXT        NOT NULL,
    import_time INTEGER     NOT NULL,
    UNIQUE (party_id, sha256, part)
);
INSERT INTO statements_new (seq, id, party_id, format, sha256, part, message_id, account, import_time)
    SELECT seq, id, party_id, format, sha256, 0, message_id, account, import_time FROM statements;
DROP TABLE statements;
ALTER TABLE statements_new RENAME TO statements;
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
