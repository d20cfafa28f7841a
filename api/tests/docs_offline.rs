//! `/docs` works with no network: the real binary serves the page and every asset it needs, the
//! page names nothing from another origin, and its Content-Security-Policy allows no other
//! origin either (so even a change that slipped in a CDN link would not load in a browser).

mod common;

use reqwest::{StatusCode, header};

use crate::common::{Server, http, shop_api};

#[tokio::test]
async fn the_docs_page_and_its_assets_come_from_the_server_itself() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(shop_api(
        dir.path(),
        &[("SHOP_HTTP_ADDR", "127.0.0.1:0")],
        &[],
    ))
    .await;
    let client = http();

    let page = client
        .get(server.url("/docs"))
        .send()
        .await
        .expect("GET /docs");
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    let value = |name: header::HeaderName| {
        headers
            .get(&name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("{name} on /docs: {headers:?}"))
            .to_owned()
    };
    assert!(value(header::CONTENT_TYPE).starts_with("text/html"));
    let csp = value(header::CONTENT_SECURITY_POLICY);
    for third_party in ["http:", "https:", "*"] {
        assert!(
            !csp.contains(third_party),
            "the policy allows {third_party:?}: {csp}"
        );
    }
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|directive| directive.starts_with("script-src"))
        .unwrap_or_else(|| panic!("no script-src: {csp}"));
    assert_eq!(script_src, "script-src 'self'", "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // The page points at the current assets, so it must be revalidated.
    assert_eq!(value(header::CACHE_CONTROL), "no-cache");

    let html = page.text().await.expect("the page");
    assert!(
        !html.contains("http:") && !html.contains("https:"),
        "{html}"
    );
    assert!(
        html.contains("data-openapi-url=\"/openapi.json\""),
        "{html}"
    );
    let references = references(&html);
    assert!(
        references.len() >= 3,
        "a stylesheet and two scripts: {references:?}"
    );
    for reference in &references {
        assert!(
            reference.starts_with('/') && !reference.starts_with("//"),
            "{reference} is not on this origin"
        );
    }
    // No inline script: every `<script>` loads a file (and the policy would block one anyway).
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count(),
        "{html}"
    );

    for reference in &references {
        let asset = client
            .get(server.url(reference))
            .send()
            .await
            .expect("GET an asset");
        assert_eq!(asset.status(), StatusCode::OK, "{reference}");
        let header = |name: header::HeaderName| {
            asset
                .headers()
                .get(&name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_else(|| panic!("{name} on {reference}: {:?}", asset.headers()))
                .to_owned()
        };
        let content_type = header(header::CONTENT_TYPE);
        let path = reference.split('?').next().unwrap_or_default();
        let expected = if path.ends_with(".js") {
            "text/javascript"
        } else if path.ends_with(".css") {
            "text/css"
        } else {
            panic!("an asset of unexpected kind: {reference}")
        };
        assert!(
            content_type.starts_with(expected),
            "{reference}: {content_type}"
        );
        let cache = header(header::CACHE_CONTROL);
        assert!(
            cache.contains("max-age=31536000") && cache.contains("immutable"),
            "{reference}: {cache}"
        );
        let etag = header(header::ETAG);
        assert!(
            etag.starts_with('"') && etag.len() > 2,
            "{reference}: {etag}"
        );
        let body = asset.bytes().await.expect("the asset");
        assert!(body.len() > 100, "{reference} has {} bytes", body.len());

        // A browser revalidating its copy gets 304 and no body.
        let again = client
            .get(server.url(reference))
            .header(header::IF_NONE_MATCH, &etag)
            .send()
            .await
            .expect("GET an asset again");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{reference}");
        assert_eq!(
            again
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok()),
            Some(etag.as_str())
        );
        assert!(again.bytes().await.expect("no body").is_empty());
    }

    // What the page loads at run time: the document, from the same origin.
    let document = client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(document.status(), StatusCode::OK);
    let document: serde_json::Value = document.json().await.expect("a JSON document");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );

    let missing = client
        .get(server.url("/docs/assets/cdn.js"))
        .send()
        .await
        .expect("GET an unknown asset");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing.headers()[header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|value| value.starts_with("application/problem+json"))
    );

    let stopped = server.terminate().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.transcript());
}

/// Every `src` and `href` in the page.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let end = rest.find('"').expect("a closing quote");
            found.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    found
}

/// A real browser renders the page under its policy: every operation of the document appears
/// (nothing renders if the policy blocked a script). Needs `chromium` on PATH, which the test
/// machines do not all have: `cargo nextest run -p shop-api --test docs_offline --run-ignored all`.
#[tokio::test]
#[ignore = "needs chromium on PATH"]
async fn a_browser_renders_every_operation_under_the_policy() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(shop_api(
        dir.path(),
        &[("SHOP_HTTP_ADDR", "127.0.0.1:0")],
        &[],
    ))
    .await;
    let document: serde_json::Value = http()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("a JSON document");
    let operations: usize = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| {
            ["get", "put", "post", "delete", "patch", "head", "options"]
                .iter()
                .filter(|method| item.get(**method).is_some())
                .count()
        })
        .sum();
    let profile = tempfile::tempdir().expect("a browser profile");
    let output = tokio::process::Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(server.url("/docs"))
        .kill_on_drop(true)
        .output()
        .await
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&output.stdout);
    let rendered = dom.matches("class=\"opblock-summary-path\"").count();
    assert_eq!(rendered, operations, "operations rendered by Swagger UI");
    let _ = server.terminate().await;
}
