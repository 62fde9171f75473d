-- A step's write reads the earliest and latest step of each kind of its
-- journey; this index answers each with one probe, whatever the journey's
-- length.
CREATE INDEX steps_journey_kind ON steps (repatriation_id, kind, occurred_at, recorded_at, id);
