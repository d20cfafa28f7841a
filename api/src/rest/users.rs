//! `/users/me`: the signed-in user's account and address book.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;
use shop_core::{
    app::{AddressInput, ChangePassword, UpdateProfile},
    domain::AddressId,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    dto::{AddressDto, UserDto},
    error::{ApiResult, ProblemDoc},
    extract::{ApiJson, SignedIn, path_id},
};
use crate::server::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(list_addresses, add_address))
        .routes(routes!(update_address, remove_address))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserDto), (status = 401, body = ProblemDoc)))]
async fn get_me(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<axum::Json<UserDto>> {
    Ok(axum::Json(state.shop.current_user(&actor).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[schema(schema_with = super::openapi::text_1_100_opt)]
    full_name: Option<String>,
    /// A new address mail can reach; case does not matter.
    #[schema(format = "email", max_length = 254, example = "ada@example.com")]
    email: Option<String>,
}

/// Change name or e-mail.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, body = UserDto), (status = 409, body = ProblemDoc), (status = 422, body = ProblemDoc)))]
async fn update_me(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(body): ApiJson<UpdateMeRequest>,
) -> ApiResult<axum::Json<UserDto>> {
    let command = UpdateProfile {
        full_name: body.full_name,
        email: body.email,
    };
    Ok(axum::Json(
        state.shop.update_profile(&actor, command).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    current_password: String,
    /// 8 to 128 characters, not all white space.
    #[schema(schema_with = super::openapi::password, example = "correct horse battery")]
    new_password: String,
}

/// Change the password; the current one must be given.
#[utoipa::path(put, path = "/api/v1/users/me/password", tag = "users", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204, description = "changed"), (status = 422, description = "wrong current password, or an invalid new one", body = ProblemDoc)))]
async fn change_password(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let command = ChangePassword {
        current_password: body.current_password,
        new_password: body.new_password,
    };
    state.shop.change_password(&actor, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressRequest {
    #[schema(schema_with = super::openapi::text_1_100, example = "Ada Lovelace")]
    recipient: String,
    #[schema(schema_with = super::openapi::text_1_200, example = "12 Analytical Row")]
    line1: String,
    #[schema(schema_with = super::openapi::text_0_200_opt)]
    line2: Option<String>,
    #[schema(schema_with = super::openapi::text_1_100, example = "London")]
    city: String,
    #[schema(schema_with = super::openapi::text_0_100_opt)]
    region: Option<String>,
    #[schema(schema_with = super::openapi::text_1_20, example = "N1 9GU")]
    postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`; case does not matter.
    #[schema(schema_with = super::openapi::country, example = "GB")]
    country: String,
    #[schema(schema_with = super::openapi::text_0_30_opt)]
    phone: Option<String>,
    /// The first address becomes the default whatever this says.
    #[serde(default)]
    is_default: bool,
}

impl From<AddressRequest> for AddressInput {
    fn from(body: AddressRequest) -> Self {
        Self {
            recipient: body.recipient,
            line1: body.line1,
            line2: body.line2,
            city: body.city,
            region: body.region,
            postal_code: body.postal_code,
            country: body.country,
            phone: body.phone,
            is_default: body.is_default,
        }
    }
}

/// The address book, oldest first.
#[utoipa::path(get, path = "/api/v1/users/me/addresses", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Vec<AddressDto>)))]
async fn list_addresses(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<axum::Json<Vec<AddressDto>>> {
    let addresses = state.shop.list_addresses(&actor).await?;
    Ok(axum::Json(
        addresses.into_iter().map(AddressDto::from).collect(),
    ))
}

/// Add an address; the first one becomes the default.
#[utoipa::path(post, path = "/api/v1/users/me/addresses", tag = "users", security(("bearer" = [])), request_body = AddressRequest,
    responses((status = 201, body = AddressDto), (status = 422, body = ProblemDoc)))]
async fn add_address(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(body): ApiJson<AddressRequest>,
) -> ApiResult<(StatusCode, axum::Json<AddressDto>)> {
    let address = state.shop.add_address(&actor, body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(address.into())))
}

/// Replace an address.
#[utoipa::path(put, path = "/api/v1/users/me/addresses/{id}", tag = "users", security(("bearer" = [])), request_body = AddressRequest,
    params(("id" = String, Path, description = "address id")),
    responses((status = 200, body = AddressDto), (status = 400, description = "a malformed id", body = ProblemDoc),
              (status = 404, description = "no such address of yours", body = ProblemDoc)))]
async fn update_address(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddressRequest>,
) -> ApiResult<axum::Json<AddressDto>> {
    let id = path_id(&id, AddressId::parse)?;
    Ok(axum::Json(
        state
            .shop
            .update_address(&actor, id, body.into())
            .await?
            .into(),
    ))
}

/// Remove an address.
#[utoipa::path(delete, path = "/api/v1/users/me/addresses/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "address id")),
    responses((status = 204, description = "removed"), (status = 400, description = "a malformed id", body = ProblemDoc),
              (status = 404, description = "no such address of yours", body = ProblemDoc)))]
async fn remove_address(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id(&id, AddressId::parse)?;
    state.shop.remove_address(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
