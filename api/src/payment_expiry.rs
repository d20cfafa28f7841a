//! The unpaid-order sweeper `serve` runs: about once a minute it cancels the orders left in
//! `pending_payment` longer than `SHOP_PAYMENT_TIMEOUT` (their stock goes back, their event and
//! email follow). Every replica runs one; the core claims each order with `SKIP LOCKED`, so an
//! order is cancelled exactly once however many sweepers run at the same moment.

use std::{future::Future, sync::Arc, time::Duration};

use shop_core::app::Shop;

use crate::metrics::Metrics;

/// How often the sweeper looks. Expiry is measured in hours; a minute late is on time.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// At most this many orders per statement, so one sweep never holds many rows locked; a full
/// batch is followed at once by the next one.
const BATCH: u32 = 100;

/// Sweeps every `interval` until `stopped` resolves. A failing sweep is logged and retried at
/// the next tick: a database outage must not end the loop for the rest of the process' life.
#[derive(Debug)]
pub struct PaymentExpiry {
    shop: Shop,
    metrics: Arc<Metrics>,
    interval: Duration,
}

impl PaymentExpiry {
    pub fn new(shop: Shop, metrics: Arc<Metrics>) -> Self {
        Self {
            shop,
            metrics,
            interval: SWEEP_INTERVAL,
        }
    }

    pub async fn run(self, stopped: impl Future<Output = ()> + Send) {
        tokio::pin!(stopped);
        let mut ticks = tokio::time::interval(self.interval);
        // After a pause (a suspended laptop, a slow database), one sweep catches up; no burst.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut stopped => return,
                _ = ticks.tick() => {}
            }
            tokio::select! {
                () = &mut stopped => return,
                _ = self.sweep() => {}
            }
        }
    }

    /// Expires batches until one comes back short; returns how many orders were cancelled.
    pub async fn sweep(&self) -> u64 {
        let mut total = 0;
        loop {
            match self.shop.expire_unpaid_orders(BATCH).await {
                Ok(expired) => {
                    total += u64::from(expired);
                    self.metrics.orders_expired.inc_by(u64::from(expired));
                    if expired < BATCH {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(error = ?error, "expiring unpaid orders failed; retrying at the next sweep");
                    break;
                }
            }
        }
        if total > 0 {
            tracing::info!(
                expired = total,
                "unpaid orders cancelled: payment time ran out"
            );
        }
        total
    }
}
