//! What every answer carries: a request id, security headers, CORS for configured origins only,
//! and problem bodies even for errors no handler produced (unknown routes, wrong methods).

use reqwest::{Method, StatusCode};

use crate::support::{Backend, TestApp, assert_problem, header, send};

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn(Backend::Embedded).await;
    for path in ["/categories", "/no-such-route"] {
        let given = send(
            app.client
                .get(app.api(path))
                .header("x-request-id", "client-chosen-id-42"),
        )
        .await;
        assert_eq!(
            header(given.headers(), "x-request-id"),
            "client-chosen-id-42",
            "{path}"
        );
        let first = app.get(path, None).await;
        let second = app.get(path, None).await;
        let ids = [first, second].map(|response| header(response.headers(), "x-request-id"));
        for id in &ids {
            uuid::Uuid::parse_str(id).unwrap_or_else(|_| panic!("{path}: {id:?} is not a UUID"));
        }
        assert_ne!(ids[0], ids[1], "each request gets its own id");
    }
}

#[tokio::test]
async fn security_headers_are_on_every_answer() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let answers = [
        app.get("/categories", None).await,
        app.get("/users/me", None).await,
        app.get("/products/no-such-product", None).await,
        send(app.client.get(app.url("/healthz"))).await,
        send(app.client.get(app.url("/nowhere"))).await,
        send(app.client.get(app.url("/docs"))).await,
    ];
    for response in answers {
        let url = response.url().clone();
        let headers = response.headers();
        assert!(
            header(headers, "strict-transport-security").starts_with("max-age="),
            "{url}: {headers:?}"
        );
        assert_eq!(header(headers, "x-frame-options"), "DENY", "{url}");
        assert_eq!(
            header(headers, "x-content-type-options"),
            "nosniff",
            "{url}"
        );
        assert!(!header(headers, "referrer-policy").is_empty(), "{url}");
        let csp = header(headers, "content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{url}: {csp}");
        if url.path() == "/docs" {
            assert!(csp.contains("default-src 'self'"), "{csp}");
        } else {
            assert!(csp.contains("default-src 'none'"), "{url}: {csp}");
        }
    }
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = TestApp::builder(Backend::Embedded)
        .cors_allowed_origins(&["https://shop.example.com"])
        .spawn()
        .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.api("/cart/items"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
    };

    let allowed = send(preflight("https://shop.example.com")).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(
        header(headers, "access-control-allow-origin"),
        "https://shop.example.com"
    );
    assert!(
        header(headers, "access-control-allow-methods").contains("POST"),
        "{headers:?}"
    );
    let allowed_headers = header(headers, "access-control-allow-headers").to_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    assert!(
        allowed_headers.contains("content-type"),
        "{allowed_headers}"
    );

    let refused = send(preflight("https://evil.example.net")).await;
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        refused.headers()
    );

    // An actual request from the allowed origin may read the answer and the request id.
    let simple = send(
        app.client
            .get(app.api("/categories"))
            .header("origin", "https://shop.example.com"),
    )
    .await;
    assert_eq!(
        header(simple.headers(), "access-control-allow-origin"),
        "https://shop.example.com"
    );
    assert!(
        header(simple.headers(), "access-control-expose-headers")
            .to_lowercase()
            .contains("x-request-id")
    );
    let other = send(
        app.client
            .get(app.api("/categories"))
            .header("origin", "https://evil.example.net"),
    )
    .await;
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // Without configured origins, no origin is allowed.
    let closed = TestApp::spawn(Backend::Embedded).await;
    let response = send(
        closed
            .client
            .request(Method::OPTIONS, closed.api("/cart/items"))
            .header("origin", "https://shop.example.com")
            .header("access-control-request-method", "POST"),
    )
    .await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = TestApp::spawn(Backend::Embedded).await;
    for url in [
        app.api("/no-such-thing"),
        app.api("/products/blue-mug/reviews"),
        app.url("/api/v2/products"),
        app.url("/"),
    ] {
        assert_problem(
            send(app.client.get(&url)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    for (method, path) in [
        (Method::DELETE, "/products"),
        (Method::PUT, "/orders"),
        (Method::GET, "/auth/login"),
        (Method::POST, "/categories"),
    ] {
        let response = send(app.request(method.clone(), path, None)).await;
        let allow = header(response.headers(), "allow");
        assert!(!allow.is_empty(), "{method} {path}: no Allow header");
        assert!(
            !allow.contains(method.as_str()),
            "{method} {path}: Allow {allow}"
        );
        assert_problem(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
}
