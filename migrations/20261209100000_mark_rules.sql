-- A fwmark service's marking rules: the JSON array of its MarkRuleSpecs, as the API shows
-- them; NULL for none (the marks are set by someone else, or it is an address service).
ALTER TABLE services ADD COLUMN mark_rules TEXT
    CHECK (mark_rules IS NULL OR (json_valid(mark_rules) AND json_type(mark_rules) = 'array'));
