//! Password reset and e-mail verification through the API, with the tokens read from the mail
//! the embedded email worker writes (`.eml` files in `SHOP_MAIL_DIR`).

use std::{path::Path, time::Duration};

use mail_parser::MessageParser;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{
    Backend, PASSWORD, TestApp, assert_problem, error_fields, header, json_body, text,
};

on_both_backends!(
    a_forgotten_password_is_reset_from_the_mail_and_old_sessions_end,
    unknown_addresses_get_the_same_answer_and_no_mail,
    an_address_is_verified_from_the_mail_and_then_checkout_is_allowed,
    bad_reset_and_verification_input_is_a_problem_and_changes_nothing,
    reset_and_verification_requests_are_rate_limited,
);

const NEW_PASSWORD: &str = "a brand new passphrase";

/// The app with its mail written to `mail`, and the optional extra setting.
async fn app_with_mail(backend: Backend, mail: &TempDir, vars: &[(&str, &str)]) -> TestApp {
    let dir = mail.path().display().to_string();
    let mut builder = TestApp::builder(backend).var("SHOP_MAIL_DIR", &dir);
    for (name, value) in vars {
        builder = builder.var(name, value);
    }
    builder.spawn().await
}

/// The (recipient, text body) of every `<event>-<template>.eml` in `dir`.
fn messages(dir: &Path, template: &str) -> Vec<(String, String)> {
    let suffix = format!("-{template}.eml");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(&suffix))
        .filter_map(|entry| std::fs::read(entry.path()).ok())
        .filter_map(|bytes| {
            let message = MessageParser::default().parse(&bytes)?;
            let to = message
                .to()
                .and_then(|to| to.first())
                .and_then(|address| address.address())
                .unwrap_or_default()
                .to_owned();
            let body = message.body_text(0)?.into_owned();
            Some((to, body))
        })
        .collect()
}

/// Waits for the `count`th message of `template` to `to`; its token (the text after `label`).
async fn token_mailed(dir: &Path, template: &str, to: &str, label: &str, count: usize) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut tokens: Vec<String> = messages(dir, template)
            .into_iter()
            .filter(|(recipient, _)| recipient == to)
            .filter_map(|(_, body)| {
                body.lines()
                    .find_map(|line| line.trim().strip_prefix(label))
                    .map(|token| token.trim().to_owned())
            })
            .collect();
        if tokens.len() >= count {
            tokens.sort();
            return tokens.swap_remove(0);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {template} message to {to} in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn reset_token(dir: &Path, to: &str) -> String {
    token_mailed(dir, "password_reset", to, "Reset code:", 1).await
}

async fn verification_token(dir: &Path, to: &str) -> String {
    token_mailed(dir, "verify_email", to, "Verification code:", 1).await
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> StatusCode {
    let body = json!({ "email": email, "password": password });
    app.post("/auth/login", None, &body).await.status()
}

async fn a_forgotten_password_is_reset_from_the_mail_and_old_sessions_end(backend: Backend) {
    let mail = tempfile::tempdir().expect("a mail folder");
    let app = app_with_mail(backend, &mail, &[]).await;
    let session = app.sign_up("ada@example.com").await;

    let response = app
        .post(
            "/auth/password-reset",
            None,
            &json!({ "email": "Ada@Example.com" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let token = reset_token(mail.path(), "ada@example.com").await;
    assert_eq!(token.len(), 43, "256 random bits, base64url: {token:?}");

    let confirm = json!({ "token": token, "password": NEW_PASSWORD });
    let response = app
        .post("/auth/password-reset/confirm", None, &confirm)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Every session the account had is over: its access token and its refresh token.
    let me = app.get("/users/me", Some(&session.access_token)).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let refresh = json!({ "refresh_token": session.refresh_token });
    let refreshed = app.post("/auth/refresh", None, &refresh).await;
    assert_problem(refreshed, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    assert_eq!(
        login_status(&app, "ada@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    let body = json!({ "email": "ada@example.com", "password": NEW_PASSWORD });
    let fresh = json_body(app.post("/auth/login", None, &body).await, StatusCode::OK).await;
    let fresh = text(&fresh, "access_token");
    json_body(app.get("/users/me", Some(&fresh)).await, StatusCode::OK).await;

    // The token worked once.
    let again = json!({ "token": token, "password": "another new passphrase" });
    let refused = app.post("/auth/password-reset/confirm", None, &again).await;
    let problem = assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["token"]);
    assert_eq!(
        login_status(&app, "ada@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
}

async fn unknown_addresses_get_the_same_answer_and_no_mail(backend: Backend) {
    let mail = tempfile::tempdir().expect("a mail folder");
    let app = app_with_mail(backend, &mail, &[]).await;
    app.register("ada@example.com").await;

    let unknown = app
        .post(
            "/auth/password-reset",
            None,
            &json!({ "email": "nobody@example.com" }),
        )
        .await;
    let known = app
        .post(
            "/auth/password-reset",
            None,
            &json!({ "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(unknown.status(), known.status());
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    let (unknown, known) = (
        unknown.bytes().await.expect("a body"),
        known.bytes().await.expect("a body"),
    );
    assert_eq!(unknown, known);

    reset_token(mail.path(), "ada@example.com").await;
    // The unknown address's request was written first: it has been handled by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let recipients: Vec<String> = messages(mail.path(), "password_reset")
        .into_iter()
        .map(|(to, _)| to)
        .collect();
    assert_eq!(recipients, ["ada@example.com"]);
}

async fn an_address_is_verified_from_the_mail_and_then_checkout_is_allowed(backend: Backend) {
    let mail = tempfile::tempdir().expect("a mail folder");
    let app = app_with_mail(backend, &mail, &[("SHOP_REQUIRE_VERIFIED_EMAIL", "true")]).await;
    let admin = app.admin_token().await;
    let product = app.create_product(&admin, "Tea", 450, 10, None).await;
    let registered = app.register("ada@example.com").await;
    assert_eq!(registered["email_verified"], false);
    let token = app.login("ada@example.com").await.access_token;
    let me = json_body(app.get("/users/me", Some(&token)).await, StatusCode::OK).await;
    assert_eq!(me["email_verified"], false);

    app.add_address(&token, "Ada").await;
    app.add_to_cart(&token, &text(&product, "id"), 1).await;
    let refused = app.checkout_request(&token, "key-1", None).await;
    let problem = assert_problem(refused, StatusCode::FORBIDDEN, "email_not_verified").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("verify"),
        "{problem}"
    );
    assert_eq!(app.stock_of(&text(&product, "id")).await, 10);

    let verification = verification_token(mail.path(), "ada@example.com").await;
    let response = app
        .post(
            "/auth/verify-email",
            None,
            &json!({ "token": verification }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let me = json_body(app.get("/users/me", Some(&token)).await, StatusCode::OK).await;
    assert_eq!(me["email_verified"], true);
    json_body(
        app.checkout_request(&token, "key-1", None).await,
        StatusCode::CREATED,
    )
    .await;

    // Once verified, asking again is pointless; the same token does not work twice.
    let resend = app
        .request(
            reqwest::Method::POST,
            "/users/me/email-verification",
            Some(&token),
        )
        .send()
        .await
        .expect("an answer");
    assert_problem(resend, StatusCode::UNPROCESSABLE_ENTITY, "rule_violated").await;
    let again = app
        .post(
            "/auth/verify-email",
            None,
            &json!({ "token": verification }),
        )
        .await;
    assert_problem(again, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // Administrators made by the operator's tool count as verified.
    let admin_me = json_body(app.get("/users/me", Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(admin_me["email_verified"], true);
}

async fn bad_reset_and_verification_input_is_a_problem_and_changes_nothing(backend: Backend) {
    let mail = tempfile::tempdir().expect("a mail folder");
    let app = app_with_mail(backend, &mail, &[]).await;
    let token = app.register_and_login("ada@example.com").await;

    let cases: [(&str, Value, &str); 6] = [
        (
            "/auth/password-reset",
            json!({ "email": "not an address" }),
            "email",
        ),
        (
            "/auth/password-reset/confirm",
            json!({ "token": "made-up", "password": NEW_PASSWORD }),
            "token",
        ),
        (
            "/auth/password-reset/confirm",
            json!({ "token": "", "password": NEW_PASSWORD }),
            "token",
        ),
        (
            "/auth/password-reset/confirm",
            json!({ "token": "x".repeat(5000), "password": NEW_PASSWORD }),
            "token",
        ),
        (
            "/auth/password-reset/confirm",
            json!({ "token": "made-up", "password": "short" }),
            "password",
        ),
        ("/auth/verify-email", json!({ "token": "made-up" }), "token"),
    ];
    for (path, body, field) in cases {
        let response = app.post(path, None, &body).await;
        let problem = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{path} {body}");
    }
    for (path, body) in [
        (
            "/auth/password-reset",
            json!({ "email": "ada@example.com", "admin": true }),
        ),
        (
            "/auth/password-reset/confirm",
            json!({ "token": 7, "password": NEW_PASSWORD }),
        ),
        ("/auth/verify-email", json!({})),
    ] {
        let status = app.post(path, None, &body).await.status();
        assert!(status.is_client_error(), "{path} {body}: {status}");
    }
    let anonymous = app
        .request(reqwest::Method::POST, "/users/me/email-verification", None)
        .send()
        .await
        .expect("an answer");
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // Nothing changed: the password, the session and the verification are as they were.
    assert_eq!(
        login_status(&app, "ada@example.com", PASSWORD).await,
        StatusCode::OK
    );
    let me = json_body(app.get("/users/me", Some(&token)).await, StatusCode::OK).await;
    assert_eq!(me["email_verified"], false);
    assert!(messages(mail.path(), "password_reset").is_empty());
}

async fn reset_and_verification_requests_are_rate_limited(backend: Backend) {
    let mail = tempfile::tempdir().expect("a mail folder");
    let app = app_with_mail(backend, &mail, &[]).await;
    let token = app.register_and_login("ada@example.com").await;

    // Per address: three an hour, whoever asks.
    let ada = json!({ "email": "ada@example.com" });
    for _ in 0..3 {
        let response = app.post("/auth/password-reset", None, &ada).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let limited = app.post("/auth/password-reset", None, &ada).await;
    assert!(!header(limited.headers(), "retry-after").is_empty());
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;

    // Per client IP: ten a minute over the reset and verification endpoints together.
    for i in 5..=10 {
        let other = json!({ "email": format!("other{i}@example.com") });
        let response = app.post("/auth/password-reset", None, &other).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "request {i}");
    }
    let limited = app
        .post("/auth/verify-email", None, &json!({ "token": "made-up" }))
        .await;
    assert!(!header(limited.headers(), "retry-after").is_empty());
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Resending the verification: three an hour per account.
    for _ in 0..3 {
        let response = app
            .request(
                reqwest::Method::POST,
                "/users/me/email-verification",
                Some(&token),
            )
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let limited = app
        .request(
            reqwest::Method::POST,
            "/users/me/email-verification",
            Some(&token),
        )
        .send()
        .await
        .expect("an answer");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // Four verification e-mails: at registration and three resends, each with its own token.
    token_mailed(
        mail.path(),
        "verify_email",
        "ada@example.com",
        "Verification code:",
        4,
    )
    .await;
}
