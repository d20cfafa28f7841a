//! What the command line prints. Standard output carries the stable, line-oriented facts that
//! people and tests read (where the server listens, the demo admin's password); logs go to
//! standard error. Messages name the field or variable at fault.

use std::io::Write as _;

use shop_core::app::AppError;

/// Prints one line to stdout. Unlike `println!` it never panics: a closed pipe (say, `| head`)
/// must not crash a server that is otherwise healthy.
pub fn say(line: impl std::fmt::Display) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// An error and its causes on one line, skipping a cause whose text its parent already quotes
/// (several of the shop's errors embed their source in their own message).
pub fn render_error(error: &anyhow::Error) -> String {
    let mut rendered = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if rendered.contains(&text) {
            continue;
        }
        if !rendered.is_empty() {
            rendered.push_str(": ");
        }
        rendered.push_str(&text);
    }
    rendered
}

/// Turns a refusal from the application layer into a message for an operator at a terminal:
/// every invalid field with what is wrong with it, and the cause of an internal failure (the
/// operator owns the database, so unlike an HTTP client they may see it).
pub fn describe_app_error(error: AppError) -> anyhow::Error {
    match error {
        AppError::Validation(fields) => {
            let text = fields
                .fields()
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
                .collect::<Vec<_>>()
                .join(", ");
            anyhow::anyhow!(text)
        }
        AppError::Internal(source) => anyhow::anyhow!("internal error: {source}"),
        other => anyhow::anyhow!(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_core::app::FieldErrors;

    #[test]
    fn validation_errors_name_each_field() {
        let mut fields = FieldErrors::single("email", "must be an e-mail address");
        fields.add("password", "must be at least 8 characters");
        let text = describe_app_error(AppError::Validation(fields)).to_string();
        assert_eq!(
            text,
            "email: must be an e-mail address, password: must be at least 8 characters"
        );
    }

    #[test]
    fn causes_already_quoted_are_not_repeated() {
        let inner = std::io::Error::other("connection refused");
        let error = anyhow::Error::new(inner).context("cannot connect: connection refused");
        assert_eq!(render_error(&error), "cannot connect: connection refused");
        let error = anyhow::anyhow!("disk full").context("cannot write shop.db");
        assert_eq!(render_error(&error), "cannot write shop.db: disk full");
    }
}
