//! The REST API under `/api/v1`: a thin transport over `shop_core::app`. Handlers parse the
//! request, call one command or query, and map the answer; no business rule lives here.
//! The OpenAPI description is generated from the handlers (utoipa) and served at
//! `/openapi.json`, with an interactive page at `/docs`.

mod account_recovery;
// utoipa's `IntoParams` expansion names the parameter types by path, which this lint flags.
#[allow(unused_qualifications)]
mod admin;
mod auth;
pub mod cache;
mod cart;
#[allow(unused_qualifications)]
mod catalog;
#[allow(unused_qualifications)]
mod coupons;
pub mod dto;
pub mod error;
pub mod extract;
pub mod images;
pub mod layers;
pub mod middleware;
#[allow(unused_qualifications)]
mod notifications;
pub mod openapi;
#[allow(unused_qualifications)]
mod orders;
mod pay_page;
#[allow(unused_qualifications)]
pub mod payments;
#[allow(unused_qualifications)]
mod shipping;
mod users;

use axum::Router;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};
use utoipa_axum::router::OpenApiRouter;

use crate::server::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Shop API", description = "REST API of the shop platform. Errors are RFC 9457 problem details."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration and sessions"),
        (name = "users", description = "The signed-in user's account"),
        (name = "catalog", description = "Products and categories (public)"),
        (name = "cart", description = "The signed-in user's cart"),
        (name = "orders", description = "Checkout and orders"),
        (name = "payments", description = "Paying for orders, and the payment providers' webhooks"),
        (name = "notifications", description = "The signed-in user's in-app notifications"),
        (name = "admin", description = "Shop administration (role admin)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The `/api/v1` routes and the OpenAPI document that describes them, plus the sandbox payment
/// page (`/pay/{token}`, HTML, not in the document). The handlers carry the full paths rather
/// than being nested under a prefix: nesting costs a path rewrite on every request.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, openapi) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .merge(auth::routes())
        .merge(account_recovery::routes())
        .merge(users::routes())
        .merge(catalog::routes())
        .merge(cart::routes())
        .merge(coupons::routes())
        .merge(shipping::routes())
        .merge(orders::routes())
        .merge(payments::routes())
        .merge(notifications::routes())
        .merge(admin::routes())
        .merge(images::routes())
        .split_for_parts();
    let mut openapi = openapi;
    openapi::finish(&mut openapi);
    (router.merge(pay_page::routes()), openapi)
}
