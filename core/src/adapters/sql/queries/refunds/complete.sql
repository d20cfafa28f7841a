-- Completes a reserved refund with what the provider answered; only while it is pending, so a
-- reservation completed meanwhile (by a concurrent retry of the same request) stays as it is.
UPDATE refunds
SET sequence = $2, amount_minor = $3, provider_reference = $4, restock = $5, full_refund = $6,
    pending = FALSE, created_at = $7
WHERE id = $1 AND pending
