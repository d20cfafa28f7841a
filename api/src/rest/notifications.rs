//! `/notifications`: the signed-in user's in-app notifications, written by the notification
//! worker and read through `Shop::notifications`.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_core::{app::ListNotifications, ports};
use utoipa::{IntoParams, ToSchema};
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
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NotificationListParams {
    /// Only notifications not read yet.
    unread: Option<bool>,
    /// Page size, 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// A previous page's `next_cursor`.
    #[param(format = Uuid)]
    cursor: Option<String>,
}

/// One in-app notification, as the REST API lists it (and the webhooks receive it).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Notification {
    /// UUIDv7: later notifications have greater ids.
    pub id: String,
    /// Whom it is for.
    pub user_id: String,
    /// `order_placed`, `order_paid`, `order_status_changed`, `order_cancelled`, `payment_failed`.
    pub kind: String,
    pub title: String,
    pub body: String,
    /// What it is about, e.g. `{"order_id": "…"}`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// When its owner marked it read; `null` while unread.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<ports::Notification> for Notification {
    fn from(notification: ports::Notification) -> Self {
        Self {
            id: notification.id,
            user_id: notification.user_id,
            kind: notification.kind,
            title: notification.title,
            body: notification.body,
            data: notification.data,
            created_at: notification.created_at,
            read_at: notification.read_at,
        }
    }
}

/// The signed-in user's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])), params(NotificationListParams),
    responses((status = 200, body = PageDto<Notification>),
              (status = 400, description = "a malformed query, a limit out of range or a cursor that is not one", body = ProblemDoc)))]
async fn list_notifications(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiQuery(params): ApiQuery<NotificationListParams>,
) -> ApiResult<axum::Json<PageDto<Notification>>> {
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
    let list = ListNotifications {
        unread_only: params.unread.unwrap_or(false),
        limit,
        cursor: params.cursor,
    };
    let page = state.shop.notifications(&actor, list).await?;
    Ok(axum::Json(PageDto {
        items: page.items.into_iter().map(Notification::from).collect(),
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
    let notification = state.shop.mark_notification_read(&actor, &id).await?;
    Ok(axum::Json(notification.into()))
}
