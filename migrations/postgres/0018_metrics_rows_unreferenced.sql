-- The metrics rows are derived: written only by the round that has just
-- locked their repatriation (which is never deleted) and recomputed from
-- its steps. Their foreign keys checked nothing that could fail, and cost
-- a lookup and a row lock on repatriations per row written: nearly half
-- the cost of inserting an observation. Steps, the primary record, keep
-- theirs.
ALTER TABLE delay_observations DROP CONSTRAINT delay_observations_repatriation_id_fkey;
ALTER TABLE journey_summaries DROP CONSTRAINT journey_summaries_repatriation_id_fkey;
ALTER TABLE metrics_pending DROP CONSTRAINT metrics_pending_repatriation_id_fkey;
