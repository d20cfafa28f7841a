//! The interactive API documentation at `/docs`: Swagger UI over `/openapi.json`, with every
//! asset served from this binary (`api/assets`, embedded at compile time). The page works with
//! no network at all (air-gapped clusters, a laptop on a plane), and its Content-Security-Policy
//! names no origin but our own.
//!
//! Assets are addressed with a digest of their content in the query (`?v=…`), so they can be
//! cached for a year: a new build with different bytes gets a new address. They carry an ETag
//! too, for clients that revalidate anyway; the page itself is revalidated on every visit.

use std::sync::LazyLock;

use axum::{
    Router,
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use sha2::{Digest as _, Sha256};

/// The vendored Swagger UI release (`api/assets/swagger-ui/README.md` says where it came from).
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

/// The docs page's policy: scripts, styles, fonts and calls only from this origin. Styles may be
/// inline because Swagger UI sets `style` attributes on the elements it renders; scripts may not.
/// `default-src 'self'` covers anything not named (e.g. the favicon).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// A year: the address changes whenever the bytes do.
const ASSET_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// One embedded file of the page.
#[derive(Debug)]
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// The first 16 hex digits of the content's SHA-256: the cache-busting version and the
    /// ETag.
    digest: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        let digest = Sha256::digest(bytes)[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self {
            name,
            content_type,
            bytes,
            digest,
        }
    }

    fn etag(&self) -> String {
        format!("\"{}\"", self.digest)
    }

    fn href(&self) -> String {
        format!("/docs/assets/{}?v={}", self.name, self.digest)
    }
}

static ASSETS: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    [
        Asset::new(
            "swagger-ui.css",
            "text/css; charset=utf-8",
            include_bytes!("../assets/swagger-ui/swagger-ui.css"),
        ),
        Asset::new(
            "swagger-ui-bundle.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js"),
        ),
        Asset::new(
            "docs.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../assets/docs.js"),
        ),
    ]
});

/// The page, built once: it only changes with the assets.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    let [css, bundle, start] = &*ASSETS;
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop API</title>
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/openapi.json" data-swagger-ui="{SWAGGER_UI_VERSION}"></div>
<script src="{bundle}"></script>
<script src="{start}"></script>
</body>
</html>
"#,
        css = css.href(),
        bundle = bundle.href(),
        start = start.href(),
    )
});

/// `/docs` and its assets.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/docs", get(page))
        .route("/docs/assets/{name}", get(asset))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        ],
        PAGE.as_str(),
    )
        .into_response()
}

/// An asset, or 304 when the client's copy is current; unknown names are 404 (a problem
/// document, from the edge middleware).
async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = asset.etag();
    let cached = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(ASSET_CACHE_CONTROL),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_same_origin_assets() {
        for asset in &*ASSETS {
            assert!(PAGE.contains(&asset.href()), "{}", asset.name);
        }
        assert!(
            !PAGE.contains("http:") && !PAGE.contains("https:"),
            "{}",
            *PAGE
        );
        assert!(!PAGE.contains("<script>"), "no inline script: {}", *PAGE);
    }
}
