//! Product views for the analytics funnel (`ProductViewed`), recorded off the read path: a
//! product page hands the view to a bounded in-process channel without waiting, and a background
//! [`ViewWriter`] drains it into the outbox in batches. When the channel is full the view is
//! dropped and counted: a lost view costs less than a slower product page.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::{Actor, Shop};
use crate::{
    domain::{DomainEvent, ProductId, Slug, UserId},
    ports::Store,
};

/// Views the channel holds before new ones are dropped.
pub const DEFAULT_VIEW_CAPACITY: usize = 4_096;
/// Views written to the outbox per transaction, at most.
const BATCH: usize = 256;

/// What happened to the views handed over so far.
#[derive(Debug, Default)]
pub struct ViewCounts {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

impl ViewCounts {
    /// Views written to the outbox.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Views dropped because the channel was full (or the writer had stopped).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Views lost because the outbox could not be written.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
enum Viewed {
    Id(ProductId),
    /// Resolved by the writer, so the page never waits for a lookup.
    Slug(String),
}

#[derive(Debug)]
struct View {
    product: Viewed,
    user_id: Option<UserId>,
    at: DateTime<Utc>,
}

/// The sending side, cheap to clone; held by the [`Shop`].
#[derive(Debug, Clone)]
pub struct ProductViews {
    sender: mpsc::Sender<View>,
    counts: Arc<ViewCounts>,
}

impl ProductViews {
    /// A channel of `capacity` views and the writer that drains it into `store`'s outbox.
    pub fn channel(store: Arc<dyn Store>, capacity: usize) -> (Self, ViewWriter) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let counts = Arc::new(ViewCounts::default());
        let writer = ViewWriter {
            receiver,
            store,
            counts: Arc::clone(&counts),
        };
        (Self { sender, counts }, writer)
    }

    pub fn counts(&self) -> &Arc<ViewCounts> {
        &self.counts
    }

    fn record(&self, product: Viewed, user_id: Option<UserId>, at: DateTime<Utc>) {
        let view = View {
            product,
            user_id,
            at,
        };
        if self.sender.try_send(view).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Drains the channel into the outbox; see [`ViewWriter::run`].
pub struct ViewWriter {
    receiver: mpsc::Receiver<View>,
    store: Arc<dyn Store>,
    counts: Arc<ViewCounts>,
}

impl std::fmt::Debug for ViewWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewWriter")
            .field("queued", &self.receiver.len())
            .finish_non_exhaustive()
    }
}

impl ViewWriter {
    /// Writes views as they come, up to [`BATCH`] per transaction, until `shutdown` resolves;
    /// then writes what is still queued and returns.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                received = self.receiver.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        return;
                    }
                    self.write(&mut batch).await;
                }
                () = &mut shutdown => break,
            }
        }
        self.receiver.close();
        while self.receiver.recv_many(&mut batch, BATCH).await > 0 {
            self.write(&mut batch).await;
        }
    }

    async fn write(&self, batch: &mut Vec<View>) {
        let mut events = Vec::with_capacity(batch.len());
        for view in batch.drain(..) {
            let product_id = match view.product {
                Viewed::Id(id) => Some(id),
                Viewed::Slug(slug) => match Slug::parse(&slug) {
                    Ok(slug) => self
                        .store
                        .get_product_by_slug(&slug)
                        .await
                        .ok()
                        .flatten()
                        .map(|product| product.id),
                    Err(_) => None,
                },
            };
            if let Some(product_id) = product_id {
                events.push(
                    DomainEvent::ProductViewed {
                        product_id,
                        user_id: view.user_id,
                    }
                    .into_outbox(view.at),
                );
            }
        }
        let count = events.len() as u64;
        match self.store.append_events(&events).await {
            Ok(()) => {
                self.counts.written.fetch_add(count, Ordering::Relaxed);
            }
            Err(error) => {
                self.counts.failed.fetch_add(count, Ordering::Relaxed);
                tracing::warn!(error = %error, views = count, "could not record product views");
            }
        }
    }
}

impl Shop {
    /// Records that `actor` looked at the product `id_or_slug` (already served), without
    /// waiting: see the module documentation. Does nothing unless the shop has
    /// [`Self::with_product_views`].
    pub fn product_viewed(&self, actor: &Actor, id_or_slug: &str) {
        let Some(views) = &self.views else { return };
        let product = match ProductId::parse(id_or_slug) {
            Ok(id) => Viewed::Id(id),
            Err(_) => Viewed::Slug(id_or_slug.to_owned()),
        };
        views.record(product, actor.acting_user(), self.clock.now());
    }

    #[must_use]
    pub fn with_product_views(mut self, views: ProductViews) -> Self {
        self.views = Some(views);
        self
    }

    pub fn product_views(&self) -> Option<&ProductViews> {
        self.views.as_ref()
    }
}
