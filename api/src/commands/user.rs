//! `shop-api user create`: accounts made by the operator, for example the first administrator
//! of a production shop (which, unlike the embedded default, gets no demo admin).

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::Context as _;
use shop_core::{
    app::{Actor, AppError, FieldErrors, RegisterUser},
    config::Config,
};

use super::{generate_password, open_shop};
use crate::{cli::CreateUserArgs, output::describe_app_error, output::say};

pub async fn create(config: Config, args: CreateUserArgs) -> anyhow::Result<()> {
    // Read before touching the database, so a bad pipe fails fast and changes nothing.
    let piped = tokio::task::spawn_blocking(password_from_stdin)
        .await
        .context("password: cannot read standard input")??;
    let generated = piped.is_none();
    let password = piped.unwrap_or_else(generate_password);
    let full_name = args
        .name
        .clone()
        .unwrap_or_else(|| default_name(&args.email));

    let shop = open_shop(&config).await?;
    let command = RegisterUser {
        email: args.email.clone(),
        password: password.clone(),
        full_name,
        role: Some(if args.admin { "admin" } else { "customer" }.to_owned()),
    };
    let user = shop
        .register_user(&Actor::System, command)
        .await
        .map_err(|error| explain(error, &args))?;
    say(format!(
        "created {} {} (id {})",
        user.role.as_str(),
        user.email,
        user.id
    ));
    if generated {
        say(format!("password: {password} (generated; shown once)"));
    }
    Ok(())
}

/// The first line of standard input, when something is piped in. A terminal is never read: the
/// command must not sit waiting for input nobody knows it wants.
fn password_from_stdin() -> anyhow::Result<Option<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("password: cannot read standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok((!password.is_empty()).then(|| password.to_owned()))
}

/// `ada` for `ada@example.com`; the whole input when it has no usable local part.
fn default_name(email: &str) -> String {
    match email.trim().split_once('@') {
        Some((local, _)) if !local.trim().is_empty() => local.trim().to_owned(),
        _ => email.trim().to_owned(),
    }
}

/// Speaks the command line's language: the `--name` flag rather than the `full_name` field, and
/// which address is taken.
fn explain(error: AppError, args: &CreateUserArgs) -> anyhow::Error {
    match error {
        AppError::AlreadyExists { field: "email" } => anyhow::anyhow!(
            "email: {} is already taken by another user",
            args.email.trim()
        ),
        AppError::Validation(fields) => {
            let mut renamed = FieldErrors::default();
            for (field, messages) in fields.fields() {
                let field = if field == "full_name" { "name" } else { field };
                for message in messages {
                    renamed.add(field, message.clone());
                }
            }
            describe_app_error(AppError::Validation(renamed))
        }
        other => describe_app_error(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_name_is_the_local_part() {
        assert_eq!(default_name("ada@example.com"), "ada");
        assert_eq!(default_name("  grace.hopper@navy.mil "), "grace.hopper");
        assert_eq!(default_name("nobody"), "nobody");
    }
}
