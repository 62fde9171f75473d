-- A journey's steps are read by steps_journey_kind (repatriation, kind,
-- time), which leads with the repatriation too: every read that used
-- steps_repatriation (repatriation, time) is answered by it, and no read
-- needs a journey's steps in time order from the index. Dropping the
-- older index takes one B-tree insert off every step recorded.
DROP INDEX steps_repatriation;
