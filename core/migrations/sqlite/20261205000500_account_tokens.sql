-- Password reset and e-mail verification (issue 18); same meaning as the Postgres migration.
-- Accounts that existed before it start unverified.
ALTER TABLE users ADD COLUMN email_verified_at TEXT;

-- Single-use tokens mailed to a user, stored as the SHA-256 (hex) of the token only.
CREATE TABLE account_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
    email      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);
