-- Finding repatriations by the references people have at hand: an
-- invoice reference (unique per party only, so looked up across parties),
-- a step's UETR or end-to-end id.
CREATE INDEX earnings_invoice_reference ON earnings (invoice_reference);
CREATE INDEX steps_uetr ON steps (uetr) WHERE uetr IS NOT NULL;
CREATE INDEX steps_end_to_end_id ON steps (end_to_end_id) WHERE end_to_end_id IS NOT NULL;
