-- 1 when the item's original call answered with a tool call but recorded
-- no tool definitions, so it was replayed without tools (the candidate
-- could only answer in text). Set when the item finishes; 0 for items
-- finished before this column existed.
ALTER TABLE replay_items ADD COLUMN tools_missing INTEGER NOT NULL DEFAULT 0;
