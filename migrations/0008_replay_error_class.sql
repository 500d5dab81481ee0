-- What kind of failure ended a failed replay item, low-cardinality
-- (`untranslatable`, `original_unavailable`, `connect`, `timeout`, the
-- provider's error type or HTTP status, ...), so a run's failures can be
-- shown grouped by class with the first message of each. NULL for items
-- that did not fail, and for items that failed before this column existed.
ALTER TABLE replay_items ADD COLUMN error_class TEXT;
