//! The money path on the real binary with no keys and no network: the embedded default takes
//! payments through the sandbox provider, whose page the binary serves itself. A customer checks
//! out, starts paying, sees the page with the total, declines (the order still waits), then pays:
//! the order is paid, the embedded invoice worker issues the invoice and the email worker writes
//! the "payment received" mail to the mail folder.

mod common;

use std::{path::Path, time::Duration};

use common::journey::{customer, get, place_order};
use common::{Server, http, shop_api};
use mail_parser::MessageParser;
use serde_json::Value;

/// Bounds the wait for the workers, which run in the binary after the notification is applied.
const WORKERS_TIMEOUT: Duration = Duration::from_secs(30);

/// The subjects of the mails written to `dir` so far.
fn subjects(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read(entry.path()).ok())
        .filter_map(|data| {
            MessageParser::default()
                .parse(&data)
                .and_then(|message| message.subject().map(str::to_owned))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_pays_on_the_sandbox_page_and_gets_the_invoice_and_the_mail() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mail = dir.path().join("mail");
    let invoices = dir.path().join("invoices");
    let env = [
        ("SHOP_HTTP_ADDR", "127.0.0.1:0"),
        ("SHOP_PUBLIC_URL", "http://shop.test"),
        ("SHOP_MAIL_DIR", mail.to_str().expect("a UTF-8 path")),
        ("SHOP_INVOICE_DIR", invoices.to_str().expect("a UTF-8 path")),
    ];
    let server = Server::start(shop_api(dir.path(), &env, &[])).await;
    let token = customer(&server, "ratna@example.com").await;
    let order = place_order(&server, &token).await;
    let id = order["id"].as_str().expect("an order id");
    let total = &order["total"];

    let started = http()
        .post(server.url(&format!("/api/v1/orders/{id}/payment")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("start paying");
    assert_eq!(started.status(), 201);
    let session: Value = started.json().await.expect("a payment session");
    assert_eq!(session["provider"], "sandbox", "{session}");
    // The page lives on the shop itself, at its public address.
    let redirect = session["redirect_url"].as_str().expect("a redirect URL");
    let path = redirect
        .strip_prefix("http://shop.test")
        .unwrap_or_else(|| panic!("not on SHOP_PUBLIC_URL: {redirect}"));
    assert!(path.starts_with("/pay/"), "{redirect}");

    let page = http()
        .get(server.url(path))
        .send()
        .await
        .expect("the pay page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("HTML");
    let minor = total["amount_minor"].as_i64().expect("a total");
    let shown = format!(
        "{}.{:02} {}",
        minor / 100,
        minor % 100,
        total["currency"].as_str().expect("a currency")
    );
    assert!(html.contains(&shown), "the page shows {shown}: {html}");

    let declined = http()
        .post(server.url(path))
        .form(&[("decision", "decline")])
        .send()
        .await
        .expect("decline");
    assert_eq!(declined.status(), 200);
    let (_, now) = get(&server, &token, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(now["status"], "pending_payment");
    let (_, payments) = get(&server, &token, &format!("/api/v1/orders/{id}/payments")).await;
    assert_eq!(payments[0]["status"], "failed", "{payments}");

    let paid = http()
        .post(server.url(path))
        .form(&[("decision", "pay")])
        .send()
        .await
        .expect("pay");
    assert_eq!(paid.status(), 200);
    let (_, now) = get(&server, &token, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(now["status"], "paid");

    // The workers in the binary take it from here: the invoice and the mail.
    let deadline = tokio::time::Instant::now() + WORKERS_TIMEOUT;
    loop {
        let invoice = http()
            .get(server.url(&format!("/api/v1/orders/{id}/invoice")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("the invoice");
        let invoiced = invoice.status() == 200;
        let mailed = subjects(&mail)
            .iter()
            .any(|subject| subject.starts_with("Payment received"));
        if invoiced && mailed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "invoice issued: {invoiced}; mails: {:?}",
            subjects(&mail)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stopped = server.terminate().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.transcript());
}
