-- Idempotency keys are scoped by tenant and method: a request id is one
-- tenant's, for one method, so no caller can take another's. Keys stored
-- before keep the empty scope, which the service reads as they were meant
-- then: the request id held for everyone.
ALTER TABLE idempotency ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency ALTER COLUMN scope DROP DEFAULT;
ALTER TABLE idempotency DROP CONSTRAINT idempotency_pkey;
ALTER TABLE idempotency ADD PRIMARY KEY (request_id, scope, method);
