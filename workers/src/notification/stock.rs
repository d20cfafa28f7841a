//! `stock.low` is for the shop's staff: one in-app notification for every administrator whose
//! account is not disabled. The `notifications` table keeps one row per source key (its
//! `event_id` column, unique); for these the key is `<event id>/<admin id>`, so each admin gets
//! one, a redelivered event makes none twice, and their webhooks are owed per key.

use shop_core::{app::WorkerData, messaging::CloudEvent};

use super::{Draft, database};
use crate::handler::{HandlerError, payload};
use crate::payloads::StockLow;

pub const STOCK_LOW: &str = "dev.shop.stock.low.v1";

/// The key a notification of `event` for `admin` is stored under.
pub fn key(event_id: &str, admin: &str) -> String {
    format!("{event_id}/{admin}")
}

/// A notification for each administrator, with its key.
pub(super) async fn drafts(
    data: &WorkerData,
    event: &CloudEvent,
) -> Result<Vec<(String, Draft)>, HandlerError> {
    let low: StockLow = payload(event)?;
    let admins = data.admins().await.map_err(database)?;
    Ok(admins
        .into_iter()
        .map(|admin| {
            let admin = admin.id.to_string();
            let draft = Draft {
                title: format!("Low stock: {}", low.sku),
                body: format!(
                    "{} has {} left (the low-stock threshold is {}).",
                    low.sku, low.stock, low.threshold
                ),
                data: serde_json::json!({
                    "product_id": low.product_id,
                    "sku": low.sku,
                    "stock": low.stock,
                    "threshold": low.threshold,
                }),
                user_id: admin.clone(),
                kind: "stock_low",
            };
            (key(&event.id, &admin), draft)
        })
        .collect())
}
