-- Signed checkpoints of the audit chain: the head's sequence and hash,
-- signed with the server's checkpoint key (Ed25519). One per sequence:
-- replicas signing the same head store it once.
CREATE TABLE audit_checkpoints (
    sequence  INTEGER PRIMARY KEY,
    head_hash TEXT    NOT NULL,
    sign_time INTEGER NOT NULL,
    key_id    TEXT    NOT NULL,
    signature TEXT    NOT NULL
);
