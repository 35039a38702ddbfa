-- The connection timeouts an agent found in its kernel and left alone at generation 0 (those
-- the cluster does not set), imported with the unmanaged services: JSON of the model's
-- TimeoutsSpec, NULL when the last report had none (an agent that predates them, or a
-- director above generation 0).
ALTER TABLE director_status ADD COLUMN unmanaged_timeouts TEXT;
