//! `/notifications`: the signed-in user's in-app notifications, written by the notification
//! worker (`shop_workers::notification`).

use axum::extract::{Path, State};
use serde::Deserialize;
use shop_core::app::{Actor, AppError};
use shop_workers::notification::{self, Notification};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    dto::PageDto,
    error::{ApiError, ApiResult, ProblemDoc},
    extract::{ApiQuery, SignedIn},
};
use crate::server::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(mark_read))
}

/// Notifications per page when `limit` is absent.
const DEFAULT_LIMIT: u32 = 20;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NotificationListParams {
    /// Only notifications not read yet.
    unread: Option<bool>,
    /// 1 to 100; 20 when absent.
    limit: Option<u32>,
    /// A previous page's `next_cursor`.
    cursor: Option<String>,
}

/// The user's id as the notifications store it; staff tools have none.
fn owner(actor: &Actor) -> Result<String, ApiError> {
    match actor {
        Actor::User { id, .. } => Ok(id.to_string()),
        Actor::Anonymous | Actor::System => Err(AppError::Unauthenticated.into()),
    }
}

fn database(state: &AppState) -> Result<&shop_workers::store::Db, ApiError> {
    state.workers_db().ok_or_else(|| {
        AppError::Internal("the notifications database is not configured".into()).into()
    })
}

fn internal(error: sqlx::Error) -> ApiError {
    AppError::Internal(Box::new(error)).into()
}

/// The signed-in user's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])), params(NotificationListParams),
    responses((status = 200, body = PageDto<Notification>), (status = 400, body = ProblemDoc), (status = 401, body = ProblemDoc)))]
async fn list_notifications(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiQuery(params): ApiQuery<NotificationListParams>,
) -> ApiResult<axum::Json<PageDto<Notification>>> {
    let user = owner(&actor)?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_parameter(
            "limit",
            "limit must be between 1 and 100",
        ));
    }
    if let Some(cursor) = &params.cursor
        && uuid::Uuid::parse_str(cursor).is_err()
    {
        return Err(ApiError::invalid_parameter(
            "cursor",
            "cursor must be a next_cursor from an earlier page",
        ));
    }
    let page = notification::list(
        database(&state)?,
        &user,
        params.unread.unwrap_or(false),
        limit,
        params.cursor.as_deref(),
    )
    .await
    .map_err(internal)?;
    Ok(axum::Json(PageDto {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Marks one of the user's notifications read (again is harmless). Another user's notification
/// is "not found".
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "notification id")),
    responses((status = 200, body = Notification), (status = 401, body = ProblemDoc), (status = 404, body = ProblemDoc)))]
async fn mark_read(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Notification>> {
    let user = owner(&actor)?;
    match notification::mark_read(database(&state)?, &user, &id)
        .await
        .map_err(internal)?
    {
        Some(notification) => Ok(axum::Json(notification)),
        None => Err(AppError::NotFound("notification").into()),
    }
}
