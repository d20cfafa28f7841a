//! The messages' templates (minijinja), embedded in the binary: an HTML and a plain-text body
//! per message. HTML templates escape what they print; text templates do not.

use std::sync::LazyLock;

use minijinja::Environment;
use serde::Serialize;

/// One kind of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    Welcome,
    OrderPlaced,
    OrderPaid,
    OrderShipped,
    OrderCancelled,
    /// Cancelled because the payment time ran out.
    OrderExpired,
    Invoice,
    PaymentFailed,
    RefundIssued,
    /// A password-reset token.
    PasswordReset,
    /// An e-mail verification token.
    VerifyEmail,
}

impl Template {
    /// Its name: template files `<name>.html` and `<name>.txt`, and the `.eml` file suffix.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Welcome => "welcome",
            Self::OrderPlaced => "order_placed",
            Self::OrderPaid => "order_paid",
            Self::OrderShipped => "order_shipped",
            Self::OrderCancelled => "order_cancelled",
            Self::OrderExpired => "order_expired",
            Self::Invoice => "invoice",
            Self::PaymentFailed => "payment_failed",
            Self::RefundIssued => "refund_issued",
            Self::PasswordReset => "password_reset",
            Self::VerifyEmail => "verify_email",
        }
    }
}

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/email/", $name)))),*]
    };
}

const SOURCES: &[(&str, &str)] = embedded!(
    "base.html",
    "welcome.html",
    "welcome.txt",
    "order_placed.html",
    "order_placed.txt",
    "order_paid.html",
    "order_paid.txt",
    "order_shipped.html",
    "order_shipped.txt",
    "order_cancelled.html",
    "order_cancelled.txt",
    "invoice.html",
    "invoice.txt",
    "order_expired.html",
    "order_expired.txt",
    "payment_failed.html",
    "payment_failed.txt",
    "refund_issued.html",
    "refund_issued.txt",
    "password_reset.html",
    "password_reset.txt",
    "verify_email.html",
    "verify_email.txt",
);

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in SOURCES {
        // The sources are part of the binary; the unit test below renders every one of them.
        if let Err(error) = env.add_template(name, source) {
            panic!("email template {name} does not compile: {error:#}");
        }
    }
    env
});

/// The HTML and the plain-text body of `template` with `context`.
pub fn render(
    template: Template,
    context: &impl Serialize,
) -> Result<(String, String), minijinja::Error> {
    let context = minijinja::Value::from_serialize(context);
    let html = TEMPLATES
        .get_template(&format!("{}.html", template.name()))?
        .render(&context)?;
    let text = TEMPLATES
        .get_template(&format!("{}.txt", template.name()))?
        .render(&context)?;
    Ok((html, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_and_html_is_escaped() {
        let context = serde_json::json!({
            "shop_name": "Shop", "name": "<Ada>", "email": "ada@example.com",
            "order_number": "o-1", "items": [{
                "name": "Tea", "sku": "TEA-1", "quantity": 2, "unit_price": "1.00 EUR",
                "line_total": "2.00 EUR"
            }],
            "subtotal": "2.00 EUR", "tax": "0.00 EUR", "total": "2.00 EUR", "amount": "2.00 EUR",
            "was_paid": true, "invoice_number": "INV-1", "attached": true,
            "reason": "<card declined>", "full": true,
            "token": "tok-1", "valid_for": "30 minutes",
        });
        for template in [
            Template::Welcome,
            Template::OrderPlaced,
            Template::OrderPaid,
            Template::OrderShipped,
            Template::OrderCancelled,
            Template::OrderExpired,
            Template::Invoice,
            Template::PaymentFailed,
            Template::RefundIssued,
            Template::PasswordReset,
            Template::VerifyEmail,
        ] {
            let (html, text) = render(template, &context).expect("renders");
            assert!(html.contains("&lt;Ada&gt;"), "{html}");
            assert!(text.contains("<Ada>"), "{text}");
        }
    }
}
