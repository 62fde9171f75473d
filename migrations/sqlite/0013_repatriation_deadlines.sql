-- The last day each repatriation may be realized, as its programme's rule
-- set counted it when the repatriation was opened (core's one deadline
-- function): the breach listing compares stored dates, never day counts.
-- NULL until computed (repatriations opened before this column, filled at
-- start) or when no programme covers the repatriation. 'YYYY-MM-DD'.
ALTER TABLE repatriations ADD COLUMN repatriation_deadline TEXT;
