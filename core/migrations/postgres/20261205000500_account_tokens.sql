-- Password reset and e-mail verification (issue 18).
--
-- `email_verified_at`: when the account proved it receives mail at `email`; NULL until then.
-- Accounts that existed before this migration start unverified: they never proved their
-- address, and can ask for a verification e-mail themselves (`SHOP_REQUIRE_VERIFIED_EMAIL` is
-- off by default, so nothing changes for them until an operator turns it on).
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- Single-use tokens mailed to a user. Only the SHA-256 of the token (hex) is stored, so a copy of
-- the database does not let anyone reset a password. `email` is the address the token was mailed
-- to: a verification token proves that address only. `used_at` is set when the token is
-- redeemed (or superseded), atomically, so a token works at most once.
CREATE TABLE account_tokens (
    token_hash text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
    email      text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);
