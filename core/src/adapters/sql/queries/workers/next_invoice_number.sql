-- The row stays locked until the transaction ends: numbers are issued one at a time, no gaps.
INSERT INTO invoice_sequences (year, last_number)
VALUES ($1, 1)
ON CONFLICT (year) DO UPDATE SET last_number = invoice_sequences.last_number + 1
RETURNING last_number
