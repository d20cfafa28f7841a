//! Maintenance mode (`SHOP_MAINTENANCE=read-only`): while the operator restores a backup into the
//! Shop's database, the API keeps serving reads from it and refuses every write, so that nothing
//! a customer does is written into a database about to be replaced (and silently lost).
//!
//! Writes answer 503 with `Retry-After` (REST: a problem document; gRPC: `UNAVAILABLE` with
//! retry info), which clients and payment providers already treat as "try again later". Reads,
//! the probes and the gRPC health service stay up, so the pods stay in their Service.

use std::time::Duration;

use axum::{
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::problem::Problem;

/// What `Retry-After` says: a restore of a shop's database takes minutes, not seconds.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

const MESSAGE: &str = "the shop is in maintenance (its database is being restored): it can be \
                       read, not changed; retry later";

/// Whether a REST request may change something: every method but the safe ones.
pub fn is_rest_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a gRPC method (`shop.v1.CartService/AddCartItem`) may change something. The shop's
/// read methods are named `Get…`, `List…`, `Search…` and `Watch…`; health checks and reflection
/// only read. Anything else (including a method the server does not know) counts as a write.
pub fn is_grpc_write(method: &str) -> bool {
    if method.starts_with("grpc.health.") || method.starts_with("grpc.reflection.") {
        return false;
    }
    let name = method.rsplit_once('/').map_or(method, |(_, name)| name);
    !["Get", "List", "Search", "Watch"]
        .iter()
        .any(|read| name.starts_with(read))
}

/// The REST layer of read-only maintenance: writes are answered 503 before any handler runs.
pub async fn refuse_rest_writes(request: Request, next: Next) -> Response {
    if !is_rest_write(request.method()) {
        return next.run(request).await;
    }
    let mut response = Problem::new(StatusCode::SERVICE_UNAVAILABLE)
        .detail(MESSAGE)
        .extension("code", json!("maintenance"))
        .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(RETRY_AFTER.as_secs()),
    );
    response
}

/// The gRPC answer to a write in maintenance.
pub fn grpc_refusal() -> tonic::Status {
    crate::grpc::error::maintenance(MESSAGE, RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_rest_methods_pass() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!is_rest_write(&method), "{method}");
        }
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(is_rest_write(&method), "{method}");
        }
    }

    #[test]
    fn grpc_reads_pass_and_everything_else_is_a_write() {
        for read in [
            "shop.v1.ProductService/GetProduct",
            "shop.v1.ProductService/ListProducts",
            "shop.v1.ProductService/SearchProducts",
            "shop.v1.OrderService/WatchOrder",
            "grpc.health.v1.Health/Check",
            "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ] {
            assert!(!is_grpc_write(read), "{read}");
        }
        for write in [
            "shop.v1.CartService/AddCartItem",
            "shop.v1.OrderService/CreateOrder",
            "shop.v1.UserService/Login",
            "unknown",
        ] {
            assert!(is_grpc_write(write), "{write}");
        }
    }
}
