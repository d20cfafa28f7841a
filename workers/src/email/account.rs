//! The account messages: a password-reset token and an e-mail verification token.
//!
//! Their events carry no token (see `shop_core::app` `account_tokens`): the token is minted here,
//! its digest stored, and the token itself goes only into the message. A reset asked for an
//! address no account has, a disabled account, an account verified meanwhile or one whose
//! address changed since the event: no message.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use shop_core::{domain::UserId, messaging::CloudEvent, ports::TokenPurpose};

use super::{Context, Email, HandlerError, Plan, SHOP_NAME, Template, database, payload, uuid};

pub const PASSWORD_RESET_REQUESTED: &str = "dev.shop.user.password_reset_requested.v1";
pub const EMAIL_VERIFICATION_REQUESTED: &str = "dev.shop.user.email_verification_requested.v1";

/// A token on its way into a message: rendered by the templates, never printed by `Debug`.
#[derive(Clone)]
pub struct MailedToken(SecretString);

impl std::fmt::Debug for MailedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailedToken(<redacted>)")
    }
}

impl Serialize for MailedToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose_secret())
    }
}

#[derive(Debug, Deserialize)]
struct ResetRequested {
    email: String,
}

#[derive(Debug, Deserialize)]
struct VerificationRequested {
    user_id: String,
    email: String,
}

/// Whether `event` is one of the account messages' events.
pub fn is_account_event(event: &CloudEvent) -> bool {
    matches!(
        event.event_type.as_str(),
        PASSWORD_RESET_REQUESTED | EMAIL_VERIFICATION_REQUESTED
    )
}

impl Email {
    /// The account message `event` calls for, with a freshly minted token; `None` for none.
    /// Called only once the event is known not to be handled yet, so a redelivery mints nothing.
    pub(super) async fn account_plan(
        &self,
        event: &CloudEvent,
    ) -> Result<Option<Plan>, HandlerError> {
        let (user, purpose) = match event.event_type.as_str() {
            PASSWORD_RESET_REQUESTED => {
                let request: ResetRequested = payload(event)?;
                let user = self
                    .data
                    .user_by_email(&request.email)
                    .await
                    .map_err(database)?;
                match user {
                    Some(user) if !user.disabled => (user, TokenPurpose::PasswordReset),
                    _ => return Ok(None),
                }
            }
            EMAIL_VERIFICATION_REQUESTED => {
                let request: VerificationRequested = payload(event)?;
                let id = uuid(event, "user_id", &request.user_id)?;
                let user = self
                    .data
                    .user(UserId::from_uuid(id))
                    .await
                    .map_err(database)?;
                match user {
                    Some(user)
                        if user.email_verified_at.is_none()
                            && user.email.as_str() == request.email =>
                    {
                        (user, TokenPurpose::EmailVerification)
                    }
                    _ => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        let token = self
            .data
            .issue_account_token(&user, purpose, chrono::Utc::now())
            .await
            .map_err(database)?;
        let (template, subject, valid_for) = match purpose {
            TokenPurpose::PasswordReset => (
                Template::PasswordReset,
                format!("Reset your {SHOP_NAME} password"),
                "30 minutes",
            ),
            TokenPurpose::EmailVerification => (
                Template::VerifyEmail,
                "Confirm your e-mail address".to_owned(),
                "48 hours",
            ),
        };
        Ok(Some(Plan {
            template,
            subject,
            user_id: user.id.as_uuid(),
            context: Context {
                token: Some(MailedToken(token)),
                valid_for: valid_for.to_owned(),
                ..Context::default()
            },
            attachment: None,
        }))
    }
}
