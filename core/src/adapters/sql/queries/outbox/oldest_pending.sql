-- When the oldest unpublished event occurred; served by outbox_pending_idx (occurred_at, id).
SELECT occurred_at
FROM outbox
WHERE published_at IS NULL
ORDER BY occurred_at
LIMIT 1
