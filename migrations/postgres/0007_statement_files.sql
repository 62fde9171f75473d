-- A statement file may hold several statements (several accounts, or
-- several periods of one account): each is stored as its own statement,
-- numbered by `part` in file order. The same file is still imported once
-- per party: its statements share the file's SHA-256.

ALTER TABLE statements ADD COLUMN part INTEGER NOT NULL DEFAULT 0;
ALTER TABLE statements DROP CONSTRAINT statements_party_id_sha256_key;
ALTER TABLE statements ADD CONSTRAINT statements_party_file_part UNIQUE (party_id, sha256, part);
