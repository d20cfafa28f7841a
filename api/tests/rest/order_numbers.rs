//! Readable order numbers over HTTP: every order shows one, customers and staff find an order by
//! it (each within what they may see), and a malformed one is refused as a problem.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Backend, TestApp, assert_problem, error_fields, json_body, text};

on_both_backends!(orders_carry_a_readable_number_to_search_by);

/// The ids of a page of orders.
async fn found(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let page = json_body(app.get(path, Some(token)).await, StatusCode::OK).await;
    page["items"]
        .as_array()
        .map(|items| items.iter().map(|order| text(order, "id")).collect())
        .unwrap_or_default()
}

fn well_formed(number: &str) -> bool {
    let parts: Vec<&str> = number.split('-').collect();
    matches!(parts.as_slice(), ["SO", year, seq]
        if year.len() == 4 && seq.len() >= 6
            && year.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit()))
}

async fn orders_carry_a_readable_number_to_search_by(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let mug = app.create_product(&admin, "Mug", 1_000, 10, None).await;
    let mug = text(&mug, "id");
    let ada = app.register_and_login("ada@example.com").await;
    let bob = app.register_and_login("bob@example.com").await;

    let adas: Value = app.place_order(&ada, &mug, 1).await;
    let bobs: Value = app.place_order(&bob, &mug, 1).await;
    let (ada_number, bob_number) = (text(&adas, "number"), text(&bobs, "number"));
    assert!(well_formed(&ada_number), "{adas}");
    assert!(well_formed(&bob_number), "{bobs}");
    assert_ne!(ada_number, bob_number);
    assert_ne!(ada_number, text(&adas, "id"), "the id stays the UUID");
    let again = json_body(
        app.get(&format!("/orders/{}", text(&adas, "id")), Some(&ada))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["number"], adas["number"]);

    // A customer finds their own order by number, in any case, and never someone else's.
    assert_eq!(
        found(&app, &format!("/orders?number={ada_number}"), &ada).await,
        vec![text(&adas, "id")]
    );
    assert_eq!(
        found(
            &app,
            &format!("/orders?number={}", ada_number.to_lowercase()),
            &ada
        )
        .await,
        vec![text(&adas, "id")]
    );
    assert!(
        found(&app, &format!("/orders?number={ada_number}"), &bob)
            .await
            .is_empty()
    );
    // Staff find anyone's, also combined with a status filter.
    assert_eq!(
        found(&app, &format!("/admin/orders?number={bob_number}"), &admin).await,
        vec![text(&bobs, "id")]
    );
    assert!(
        found(
            &app,
            &format!("/admin/orders?number={bob_number}&status=paid"),
            &admin
        )
        .await
        .is_empty()
    );
    // A customer cannot use the staff search.
    assert_problem(
        app.get(&format!("/admin/orders?number={bob_number}"), Some(&ada))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Malformed numbers are refused, naming the parameter.
    for bad in ["42", "SO-2026", "SO-26-000001", "SO-2026-0"] {
        for path in ["/orders", "/admin/orders"] {
            let token = if path == "/orders" { &ada } else { &admin };
            let problem = assert_problem(
                app.get(&format!("{path}?number={bad}"), Some(token)).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            assert_eq!(error_fields(&problem), vec!["number"], "{problem}");
        }
    }
}
