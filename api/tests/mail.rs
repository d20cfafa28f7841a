//! Checkout to inbox on the real binary: the embedded default's email and invoice workers mail
//! the order confirmation (with the order number and total) and, once the payment is recorded,
//! the invoice with its PDF attached, to an SMTP server listening in the test.

mod common;

use std::time::Duration;

use common::journey::{admin, buy, customer};
use common::{Server, shop_api};
use mail_parser::{MessageParser, MimeHeaders as _};
use shop_testing::smtp::{Received, SmtpSink};

/// The parsed messages sent to `to`, as (subject, text body, attachment content types).
fn inbox(sink: &SmtpSink, to: &str) -> Vec<(String, String, Vec<String>)> {
    sink.received()
        .iter()
        .filter(|message: &&Received| message.to.iter().any(|address| address == to))
        .filter_map(|message| MessageParser::default().parse(&message.data))
        .map(|message| {
            let subject = message.subject().unwrap_or_default().to_owned();
            let text = message
                .body_text(0)
                .map(|text| text.into_owned())
                .unwrap_or_default();
            let attachments = message
                .attachments()
                .filter_map(|part| part.content_type())
                .map(|kind| format!("{}/{}", kind.ctype(), kind.subtype().unwrap_or_default()))
                .collect();
            (subject, text, attachments)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_mails_the_confirmation_and_payment_mails_the_invoice() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let port = sink.addr().port().to_string();
    let invoices = dir.path().join("invoices");
    let invoices = invoices.to_str().expect("a UTF-8 path");
    let env = [
        ("SHOP_HTTP_ADDR", "127.0.0.1:0"),
        ("SHOP_SMTP_HOST", "127.0.0.1"),
        ("SHOP_SMTP_PORT", port.as_str()),
        ("SHOP_SMTP_STARTTLS", "false"),
        ("SHOP_SMTP_FROM", "Shop <orders@shop.test>"),
        ("SHOP_INVOICE_DIR", invoices),
    ];
    let server = Server::start(shop_api(dir.path(), &env, &[])).await;
    let admin = admin(&server).await;
    let grace = customer(&server, "grace@example.com").await;
    let order = buy(&server, &grace, &admin).await;
    // Mails name the order by its readable number (`SO-2026-000123`), not its id.
    let id = order["number"].as_str().expect("an order number");
    let minor = order["total"]["amount_minor"].as_i64().expect("a total");
    let currency = order["total"]["currency"].as_str().expect("a currency");
    let total = format!("{}.{:02} {currency}", minor / 100, minor % 100);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let messages = loop {
        let messages = inbox(&sink, "grace@example.com");
        let invoiced = messages
            .iter()
            .any(|(_, _, attachments)| !attachments.is_empty());
        if invoiced || tokio::time::Instant::now() > deadline {
            break messages;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let summary: Vec<&str> = messages
        .iter()
        .map(|(subject, _, _)| subject.as_str())
        .collect();

    let confirmation = messages
        .iter()
        .find(|(_, text, _)| text.contains(&format!("Order number: {id}")))
        .unwrap_or_else(|| panic!("no order confirmation among {summary:?}"));
    assert!(
        confirmation.1.contains(&format!("Total: {total}")),
        "{}",
        confirmation.1
    );

    let invoice = messages
        .iter()
        .find(|(_, text, _)| text.contains("Here is invoice INV-"))
        .unwrap_or_else(|| panic!("no invoice email among {summary:?}"));
    assert_eq!(
        invoice.2,
        ["application/pdf"],
        "the invoice PDF is attached"
    );
    assert_eq!(
        messages
            .iter()
            .filter(|(_, text, _)| text.contains(&format!("Order number: {id}")))
            .count(),
        1,
        "one confirmation"
    );
}
