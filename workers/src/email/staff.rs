//! Staff alerts: `stock.low` is mailed to the shop's staff address (`SHOP_STAFF_EMAIL`), not to a
//! customer. Without that setting no staff mail is sent (the administrators still get an in-app
//! notification from the notification worker). Idempotent as every message of this worker: the
//! event is claimed, the message sent, the claim committed.

use anyhow::Context as _;
use lettre::{
    Message,
    message::{Mailbox, header::ContentType},
};
use shop_core::{config::EmailSettings, messaging::CloudEvent};

use super::{Email, SHOP_NAME, database, reject};
use crate::handler::{HandlerError, claim, payload};
use crate::payloads::StockLow;

pub const STOCK_LOW: &str = "dev.shop.stock.low.v1";

/// The name of the message, in `.eml` file names and its `Message-ID`.
const NAME: &str = "stock_low";

/// `SHOP_STAFF_EMAIL` as a mailbox; an address that does not parse is an error naming it.
pub fn staff_address(settings: &EmailSettings) -> anyhow::Result<Option<Mailbox>> {
    settings
        .staff_email
        .as_deref()
        .map(|raw| {
            raw.trim().parse::<Mailbox>().with_context(|| {
                format!(
                    "SHOP_STAFF_EMAIL: {raw:?} is not an address like \"Shop staff <staff@example.com>\""
                )
            })
        })
        .transpose()
}

impl Email {
    /// Mails `event` (a `stock.low`) to the staff address, once.
    pub(super) async fn stock_low(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        let low: StockLow = payload(event)?;
        let Some(staff) = &self.staff else {
            tracing::debug!(id = %event.id, "email: no SHOP_STAFF_EMAIL; the low-stock alert is not mailed");
            return Ok(());
        };
        let text = format!(
            "{sku} is running low: {stock} left after the last sale (the low-stock threshold is \
             {threshold}).\n\nProduct id: {product}\n\n-- {SHOP_NAME}\n",
            sku = low.sku,
            stock = low.stock,
            threshold = low.threshold,
            product = low.product_id,
        );
        let domain = self.from.email.domain().to_owned();
        let message = Message::builder()
            .from(self.from.clone())
            .to(staff.clone())
            .subject(format!("Low stock: {} ({} left)", low.sku, low.stock))
            .message_id(Some(format!("<{}.{NAME}@{domain}>", event.id)))
            .date(event.time.into())
            .header(ContentType::TEXT_PLAIN)
            .body(text)
            .map_err(|error| reject(event, format!("build the message: {error}")))?;
        let Some(work) = claim(
            &self.data,
            shop_core::messaging::WorkerKind::Email,
            &event.id,
        )
        .await?
        else {
            return Ok(());
        };
        // Dropping the work on a failed send rolls its record back, so the retry sends again.
        self.deliver_named(event, NAME, message).await?;
        work.commit().await.map_err(database)?;
        tracing::info!(id = %event.id, sku = %low.sku, "email: low-stock alert sent to the staff");
        Ok(())
    }
}
