-- Refunds of an order's payment, in one or more parts. `sequence` numbers an order's refunds
-- (1, 2, …). `refund_key` is sent to the provider and derives from the staff request's
-- Idempotency-Key, so a retried request is the same refund (unique per order); `request_hash`
-- fingerprints that request (amount asked, reason, restock) to refuse the key's reuse for
-- another refund (NULL for refunds the provider reported). `pending`: reserved before the
-- provider was asked (provider_reference is then the refund key), so concurrent refunds and
-- the provider's notification of this refund count it; completed with the provider's answer.
-- (provider, provider_reference)
-- records a provider's refund once, whether the shop asked for it or it arrived as a
-- notification.
CREATE TABLE refunds (
    id                 uuid PRIMARY KEY,
    order_id           uuid NOT NULL REFERENCES orders (id) ON DELETE RESTRICT,
    sequence           bigint NOT NULL CHECK (sequence >= 1),
    amount_minor       bigint NOT NULL CHECK (amount_minor > 0),
    currency           text NOT NULL CHECK (length(currency) = 3),
    reason             text NOT NULL,
    provider           text NOT NULL,
    provider_reference text NOT NULL,
    refund_key         text NOT NULL,
    request_hash       text,
    restock            boolean NOT NULL,
    full_refund        boolean NOT NULL,
    pending            boolean NOT NULL,
    created_at         timestamptz NOT NULL,
    CONSTRAINT refunds_sequence_key UNIQUE (order_id, sequence),
    CONSTRAINT refunds_refund_key_key UNIQUE (order_id, refund_key),
    CONSTRAINT refunds_provider_reference_key UNIQUE (provider, provider_reference)
);

-- The unpaid-order sweeper's claim: the oldest orders still waiting for payment.
CREATE INDEX orders_pending_payment_idx ON orders (placed_at) WHERE status = 'pending_payment';
