//! The storage logic both SQL backends share. Postgres and SQLite accept the same SQL here
//! (`$N` parameters, `ON CONFLICT`, `RETURNING`, row values, recursive CTEs), so the repository
//! implementations are written once and instantiated per backend by [`sql_store!`]. What differs
//! lives in each backend's module: connecting, how a write transaction starts, whether rows are
//! locked with `FOR UPDATE`, and full-text search.

/// Columns of `products` (aliased `p`) in the order [`super::rows::ProductRow`] reads them.
macro_rules! product_columns {
    () => {
        "p.id, p.sku, p.name, p.slug, p.description, p.price_minor, p.currency, p.stock, \
         p.active, p.category_id, p.created_at, p.updated_at"
    };
}

macro_rules! user_columns {
    () => {
        "id, email, full_name, role, password_hash, disabled, created_at, updated_at"
    };
}

macro_rules! address_columns {
    () => {
        "id, user_id, recipient, line1, line2, city, region, postal_code, country, phone, \
         is_default, created_at"
    };
}

macro_rules! order_columns {
    () => {
        "id, user_id, status, currency, subtotal_minor, tax_minor, total_minor, \
         shipping_address, placed_at, updated_at"
    };
}

macro_rules! cart_line_columns {
    () => {
        concat!(
            "ci.id AS item_id, ci.user_id AS item_user_id, ci.quantity AS item_quantity, \
             ci.added_at AS item_added_at, ",
            $crate::adapters::sql_store::product_columns!()
        )
    };
}

macro_rules! payment_columns {
    () => {
        "id, order_id, amount_minor, currency, provider, reference, status, failure_reason, \
         created_at"
    };
}

/// Implements every repository port for `$store`, whose pool is `self.pool: Pool<$db>`.
///
/// `$store` must provide `begin_write(&self)`, `LOCK_USER_ROW` and `LOCK_ROWS_OF_PRODUCTS` (a
/// `FOR UPDATE OF ...` clause, or empty where the write transaction already excludes writers),
/// `DAY_OF_PLACED_AT` (an SQL expression for the UTC day of an order) and
/// `search(&self, &SearchQuery)`.
macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        use async_trait::async_trait;
        use chrono::{DateTime, Utc};
        use sqlx::{QueryBuilder, Transaction, types::Json};

        use $crate::{
            adapters::rows::{
                AddressRow, CartLineRow, CategoryRow, OrderItemRow, OrderRow, OutboxRow, PaymentRow,
                ProductRow, StatusChangeRow, UserRow, assemble_orders, backend, classify,
            },
            app::name_sort_key,
            messaging::CloudEvent,
            domain::{
                Address, AddressId, CartItemId, CartLine, Category, CategoryId, Email, Order, OrderId, OrderItem,
                OutboxEvent, Payment, Product, ProductId, Quantity, Slug, User, UserId, DomainEvent,
                checkout::{CheckoutInput, CheckoutError, build_order},
            },
            ports::{
                CartStore, CatalogStore, CheckoutOutcome, CheckoutRequest, OrderQuery, OrderStore,
                EventPublisher, OrderTransition, OutboxStore, ProductAfter, RelayError, SalesStats, DaySales, TopProduct, ProductQuery, ProductSort, SearchQuery,
                StatusChange, StockAdjustment, StoreError, StoreResult, UserStore,
            },
        };

        type Tx = Transaction<'static, $db>;

        impl $store {
            /// Order lines written per statement: 8 parameters each keeps a statement under 4,000
            /// parameters, well inside SQLite's 32,766 and Postgres' 65,535.
            const LINES_PER_STATEMENT: usize = 500;

            async fn insert_events(tx: &mut Tx, events: &[OutboxEvent]) -> StoreResult<()> {
                for event in events {
                    sqlx::query(
                        "INSERT INTO outbox (id, event_type, subject, payload, occurred_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(event.id.as_uuid())
                    .bind(&event.event_type)
                    .bind(&event.subject)
                    .bind(Json(&event.payload))
                    .bind(event.occurred_at)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                }
                Ok(())
            }

            /// `CartUpdated` for a line that now holds `quantity` units (0: removed).
            fn cart_updated(user_id: UserId, product_id: ProductId, quantity: i64, at: DateTime<Utc>) -> OutboxEvent {
                DomainEvent::CartUpdated { user_id, product_id, quantity }.into_outbox(at)
            }

            /// `StockLow` for each product this sale takes from above `threshold` to at or below it.
            fn stock_low_events(lines: &[CartLine], threshold: i64, at: DateTime<Utc>) -> Vec<OutboxEvent> {
                lines
                    .iter()
                    .filter_map(|line| {
                        let before = line.product.stock.units();
                        let after = before - line.item.quantity.units();
                        (before > threshold && after <= threshold).then(|| {
                            DomainEvent::StockLow {
                                product_id: line.product.id,
                                sku: line.product.sku.as_str().to_owned(),
                                stock: after,
                                threshold,
                            }
                            .into_outbox(at)
                        })
                    })
                    .collect()
            }

            async fn record_stock_movement(
                tx: &mut Tx,
                product_id: ProductId,
                delta: i64,
                reason: &str,
                actor: Option<UserId>,
                order_id: Option<OrderId>,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO stock_movements (product_id, delta, reason, actor_id, order_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(product_id.as_uuid())
                .bind(delta)
                .bind(reason)
                .bind(actor.map(|id| id.as_uuid()))
                .bind(order_id.map(|id| id.as_uuid()))
                .bind(at)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(())
            }

            async fn record_status(
                tx: &mut Tx,
                order_id: OrderId,
                change: &StatusChange,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO order_status_history (order_id, from_status, to_status, actor_id, changed_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(order_id.as_uuid())
                .bind(change.from.map(|status| status.as_str()))
                .bind(change.to.as_str())
                .bind(change.actor.map(|id| id.as_uuid()))
                .bind(change.at)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(())
            }

            async fn load_orders<'e, E>(executor: E, rows: Vec<OrderRow>) -> StoreResult<Vec<Order>>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query = QueryBuilder::<$db>::new(
                    "SELECT order_id, product_id, sku, name, unit_price_minor, quantity, line_total_minor \
                     FROM order_items WHERE order_id IN (",
                );
                let mut ids = query.separated(", ");
                for row in &rows {
                    ids.push_bind(row.id);
                }
                query.push(") ORDER BY order_id, line_no");
                let items: Vec<OrderItemRow> =
                    query.build_query_as().fetch_all(executor).await.map_err(backend)?;
                assemble_orders(rows, items)
            }

            async fn order_in(tx: &mut Tx, id: OrderId) -> StoreResult<Option<Order>> {
                let row: Option<OrderRow> =
                    sqlx::query_as(concat!("SELECT ", $crate::adapters::sql_store::order_columns!(), " FROM orders WHERE id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(backend)?;
                let Some(row) = row else { return Ok(None) };
                Ok(Self::load_orders(&mut **tx, vec![row]).await?.pop())
            }

            /// The status change, stock return and events of `transition`, inside `tx`.
            async fn apply_transition(tx: &mut Tx, transition: &OrderTransition) -> StoreResult<()> {
                let updated = sqlx::query(
                    "UPDATE orders SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2",
                )
                .bind(transition.order_id.as_uuid())
                .bind(transition.from.as_str())
                .bind(transition.to.as_str())
                .bind(transition.at)
                .execute(&mut **tx)
                .await
                .map_err(backend)?
                .rows_affected();
                if updated == 0 {
                    let exists: Option<(String,)> = sqlx::query_as("SELECT status FROM orders WHERE id = $1")
                        .bind(transition.order_id.as_uuid())
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(backend)?;
                    return Err(if exists.is_some() { StoreError::Conflict } else { StoreError::NotFound });
                }
                if transition.to.returns_stock() {
                    let items: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
                        "SELECT product_id, quantity FROM order_items WHERE order_id = $1 ORDER BY product_id",
                    )
                    .bind(transition.order_id.as_uuid())
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(backend)?;
                    for (product_id, quantity) in items {
                        sqlx::query("UPDATE products SET stock = stock + $2, updated_at = $3 WHERE id = $1")
                            .bind(product_id)
                            .bind(quantity)
                            .bind(transition.at)
                            .execute(&mut **tx)
                            .await
                            .map_err(backend)?;
                        Self::record_stock_movement(
                            tx,
                            ProductId::from_uuid(product_id),
                            quantity,
                            "order cancelled",
                            transition.actor,
                            Some(transition.order_id),
                            transition.at,
                        )
                        .await?;
                    }
                }
                let change = StatusChange {
                    from: Some(transition.from),
                    to: transition.to,
                    actor: transition.actor,
                    at: transition.at,
                };
                Self::record_status(tx, transition.order_id, &change).await?;
                Self::insert_events(tx, &transition.events).await
            }

            /// The order an idempotency key created, if the key was used before.
            async fn replay(tx: &mut Tx, request: &CheckoutRequest) -> StoreResult<Option<CheckoutOutcome>> {
                let seen: Option<(String, uuid::Uuid)> = sqlx::query_as(
                    "SELECT fingerprint, order_id FROM checkout_requests \
                     WHERE user_id = $1 AND idempotency_key = $2",
                )
                .bind(request.user_id.as_uuid())
                .bind(&request.idempotency_key)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?;
                let Some((fingerprint, order_id)) = seen else { return Ok(None) };
                if fingerprint != request.fingerprint {
                    return Err(StoreError::IdempotencyKeyReused);
                }
                let order = Self::order_in(tx, OrderId::from_uuid(order_id)).await?.ok_or(StoreError::NotFound)?;
                Ok(Some(CheckoutOutcome { order, replayed: true }))
            }

            async fn place_order(&self, request: &CheckoutRequest) -> StoreResult<CheckoutOutcome> {
                let mut tx = self.begin_write().await?;
                // One checkout per user at a time, so a retried request waits for the first and
                // then finds its key instead of racing it.
                // The key is looked up by a second statement on purpose: after waiting for the
                // lock, Postgres re-checks only the locked row, so a join in the locking statement
                // would miss the key the first checkout just recorded.
                let lock_user = format!("SELECT id FROM users WHERE id = $1{}", Self::LOCK_USER_ROW);
                sqlx::query(&lock_user).bind(request.user_id.as_uuid()).execute(&mut *tx).await.map_err(backend)?;
                if let Some(replayed) = Self::replay(&mut tx, request).await? {
                    return Ok(replayed);
                }
                // Products are locked in id order so that concurrent checkouts cannot deadlock.
                let lines = format!(
                    concat!(
                        "SELECT ", $crate::adapters::sql_store::cart_line_columns!(),
                        " FROM cart_items ci JOIN products p ON p.id = ci.product_id \
                          WHERE ci.user_id = $1 ORDER BY p.id{}"
                    ),
                    Self::LOCK_ROWS_OF_PRODUCTS
                );
                let rows: Vec<CartLineRow> =
                    sqlx::query_as(&lines).bind(request.user_id.as_uuid()).fetch_all(&mut *tx).await.map_err(backend)?;
                let lines = rows.into_iter().map(CartLine::try_from).collect::<StoreResult<Vec<_>>>()?;
                // The rows are locked (or the write lock held): their stock is what the sale takes from.
                let stock_low = Self::stock_low_events(&lines, request.low_stock_threshold, request.now);
                let order = build_order(CheckoutInput {
                    order_id: request.order_id,
                    user_id: request.user_id,
                    lines,
                    shipping_address: request.shipping_address.clone(),
                    tax_rate: request.tax_rate,
                    now: request.now,
                })?;
                // One statement per kind of row, whatever the number of lines, in chunks that stay
                // far below either backend's limit on bound parameters.
                for chunk in order.items.chunks(Self::LINES_PER_STATEMENT) {
                    let mut take = QueryBuilder::<$db>::new("UPDATE products SET stock = stock - v.column2, updated_at = ");
                    take.push_bind(request.now).push(" FROM (");
                    take.push_values(chunk, |mut row, item| {
                        row.push_bind(item.product_id.as_uuid()).push_bind(item.quantity.units());
                    });
                    take.push(") AS v WHERE products.id = v.column1 AND products.stock >= v.column2");
                    let taken = take.build().execute(&mut *tx).await.map_err(backend)?.rows_affected();
                    // The rows are locked and `build_order` saw enough stock, so this is a guard
                    // against a bug, not a race.
                    if taken != chunk.len() as u64 {
                        let first = &chunk[0];
                        return Err(CheckoutError::InsufficientStock {
                            product_id: first.product_id,
                            requested: first.quantity.units(),
                            available: 0,
                        }
                        .into());
                    }
                    let mut ledger = QueryBuilder::<$db>::new(
                        "INSERT INTO stock_movements (product_id, delta, reason, actor_id, order_id, created_at) ",
                    );
                    ledger.push_values(chunk, |mut row, item| {
                        row.push_bind(item.product_id.as_uuid())
                            .push_bind(-item.quantity.units())
                            .push_bind("order placed")
                            .push_bind(request.user_id.as_uuid())
                            .push_bind(order.id.as_uuid())
                            .push_bind(request.now);
                    });
                    ledger.build().execute(&mut *tx).await.map_err(backend)?;
                }
                sqlx::query(
                    "INSERT INTO orders (id, user_id, status, currency, subtotal_minor, tax_minor, total_minor, \
                     shipping_address, placed_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(order.id.as_uuid())
                .bind(order.user_id.as_uuid())
                .bind(order.status.as_str())
                .bind(order.total.currency().code())
                .bind(order.subtotal.amount_minor())
                .bind(order.tax.amount_minor())
                .bind(order.total.amount_minor())
                .bind(order.shipping_address.as_ref().map(Json))
                .bind(order.placed_at)
                .bind(order.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                let numbered: Vec<(i64, &OrderItem)> = (1_i64..).zip(&order.items).collect();
                for chunk in numbered.chunks(Self::LINES_PER_STATEMENT) {
                    let mut lines = QueryBuilder::<$db>::new(
                        "INSERT INTO order_items (order_id, line_no, product_id, sku, name, unit_price_minor, \
                         quantity, line_total_minor) ",
                    );
                    lines.push_values(chunk, |mut row, (line_no, item)| {
                        row.push_bind(order.id.as_uuid())
                            .push_bind(*line_no)
                            .push_bind(item.product_id.as_uuid())
                            .push_bind(item.sku.as_str())
                            .push_bind(item.name.as_str())
                            .push_bind(item.unit_price.amount_minor())
                            .push_bind(item.quantity.units())
                            .push_bind(item.line_total.amount_minor());
                    });
                    lines.build().execute(&mut *tx).await.map_err(backend)?;
                }
                let placed = StatusChange { from: None, to: order.status, actor: Some(order.user_id), at: request.now };
                Self::record_status(&mut tx, order.id, &placed).await?;
                sqlx::query(
                    "INSERT INTO checkout_requests (user_id, idempotency_key, fingerprint, order_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(request.user_id.as_uuid())
                .bind(&request.idempotency_key)
                .bind(&request.fingerprint)
                .bind(order.id.as_uuid())
                .bind(request.now)
                .execute(&mut *tx)
                .await
                .map_err(|error| classify(error, &[("checkout_requests", "idempotency_key")]))?;
                sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
                    .bind(request.user_id.as_uuid())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                Self::insert_events(&mut tx, &[DomainEvent::order_placed(&order).into_outbox(request.now)]).await?;
                Self::insert_events(&mut tx, &stock_low).await?;
                tx.commit().await.map_err(backend)?;
                Ok(CheckoutOutcome { order, replayed: false })
            }
        }

        #[async_trait]
        impl UserStore for $store {
            async fn insert_user(&self, user: &User, events: &[OutboxEvent]) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(concat!("INSERT INTO users (", $crate::adapters::sql_store::user_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                    .bind(user.id.as_uuid())
                    .bind(user.email.as_str())
                    .bind(user.full_name.as_str())
                    .bind(user.role.as_str())
                    .bind(user.password_hash.as_phc())
                    .bind(user.disabled)
                    .bind(user.created_at)
                    .bind(user.updated_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|error| classify(error, &[("email", "email")]))?;
                Self::insert_events(&mut tx, events).await?;
                tx.commit().await.map_err(backend)
            }

            async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
                let row: Option<UserRow> = sqlx::query_as(concat!("SELECT ", $crate::adapters::sql_store::user_columns!(), " FROM users WHERE id = $1"))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                row.map(User::try_from).transpose()
            }

            async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
                let row: Option<UserRow> =
                    sqlx::query_as(concat!("SELECT ", $crate::adapters::sql_store::user_columns!(), " FROM users WHERE email = $1"))
                        .bind(email.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                row.map(User::try_from).transpose()
            }

            async fn update_user(&self, user: &User) -> StoreResult<()> {
                let updated = sqlx::query(
                    "UPDATE users SET email = $2, full_name = $3, role = $4, password_hash = $5, disabled = $6, \
                     updated_at = $7 WHERE id = $1",
                )
                .bind(user.id.as_uuid())
                .bind(user.email.as_str())
                .bind(user.full_name.as_str())
                .bind(user.role.as_str())
                .bind(user.password_hash.as_phc())
                .bind(user.disabled)
                .bind(user.updated_at)
                .execute(&self.pool)
                .await
                .map_err(|error| classify(error, &[("email", "email")]))?
                .rows_affected();
                if updated == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn list_users(&self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<User>> {
                let rows: Vec<UserRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::adapters::sql_store::user_columns!(),
                    " FROM users WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
                ))
                .bind(after.map(|id| id.as_uuid()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rows.into_iter().map(User::try_from).collect()
            }

            async fn count_users(&self) -> StoreResult<u64> {
                let (count,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await.map_err(backend)?;
                Ok(u64::try_from(count).unwrap_or_default())
            }

            async fn insert_address(&self, address: &Address) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                if address.is_default {
                    Self::clear_default_address(&mut tx, address.user_id).await?;
                }
                let f = &address.fields;
                sqlx::query(concat!(
                    "INSERT INTO addresses (", $crate::adapters::sql_store::address_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(address.id.as_uuid())
                .bind(address.user_id.as_uuid())
                .bind(f.recipient.as_str())
                .bind(f.line1.as_str())
                .bind(f.line2.as_str())
                .bind(f.city.as_str())
                .bind(f.region.as_str())
                .bind(f.postal_code.as_str())
                .bind(f.country.as_str())
                .bind(f.phone.as_str())
                .bind(address.is_default)
                .bind(address.created_at)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)
            }

            async fn update_address(&self, address: &Address) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                if address.is_default {
                    Self::clear_default_address(&mut tx, address.user_id).await?;
                }
                let f = &address.fields;
                let updated = sqlx::query(
                    "UPDATE addresses SET recipient = $3, line1 = $4, line2 = $5, city = $6, region = $7, \
                     postal_code = $8, country = $9, phone = $10, is_default = $11 WHERE id = $1 AND user_id = $2",
                )
                .bind(address.id.as_uuid())
                .bind(address.user_id.as_uuid())
                .bind(f.recipient.as_str())
                .bind(f.line1.as_str())
                .bind(f.line2.as_str())
                .bind(f.city.as_str())
                .bind(f.region.as_str())
                .bind(f.postal_code.as_str())
                .bind(f.country.as_str())
                .bind(f.phone.as_str())
                .bind(address.is_default)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
                if updated == 0 {
                    return Err(StoreError::NotFound);
                }
                tx.commit().await.map_err(backend)
            }

            async fn delete_address(&self, user_id: UserId, id: AddressId) -> StoreResult<bool> {
                let deleted = sqlx::query("DELETE FROM addresses WHERE id = $1 AND user_id = $2")
                    .bind(id.as_uuid())
                    .bind(user_id.as_uuid())
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                Ok(deleted > 0)
            }

            async fn get_address(&self, user_id: UserId, id: AddressId) -> StoreResult<Option<Address>> {
                let row: Option<AddressRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::adapters::sql_store::address_columns!(), " FROM addresses WHERE id = $1 AND user_id = $2"
                ))
                .bind(id.as_uuid())
                .bind(user_id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                row.map(Address::try_from).transpose()
            }

            async fn list_addresses(&self, user_id: UserId) -> StoreResult<Vec<Address>> {
                let rows: Vec<AddressRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::adapters::sql_store::address_columns!(), " FROM addresses WHERE user_id = $1 ORDER BY created_at, id"
                ))
                .bind(user_id.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rows.into_iter().map(Address::try_from).collect()
            }
        }

        impl $store {
            async fn clear_default_address(tx: &mut Tx, user_id: UserId) -> StoreResult<()> {
                sqlx::query("UPDATE addresses SET is_default = FALSE WHERE user_id = $1 AND is_default")
                    .bind(user_id.as_uuid())
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                Ok(())
            }
        }

        #[async_trait]
        impl CatalogStore for $store {
            async fn insert_category(&self, category: &Category) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO categories (id, name, slug, parent_id, description, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(category.id.as_uuid())
                .bind(category.name.as_str())
                .bind(category.slug.as_str())
                .bind(category.parent_id.map(|id| id.as_uuid()))
                .bind(category.description.as_str())
                .bind(category.created_at)
                .bind(category.updated_at)
                .execute(&self.pool)
                .await
                .map_err(|error| classify(error, &[("slug", "slug")]))?;
                Ok(())
            }

            async fn update_category(&self, category: &Category) -> StoreResult<()> {
                let updated = sqlx::query(
                    "UPDATE categories SET name = $2, slug = $3, parent_id = $4, description = $5, updated_at = $6 \
                     WHERE id = $1",
                )
                .bind(category.id.as_uuid())
                .bind(category.name.as_str())
                .bind(category.slug.as_str())
                .bind(category.parent_id.map(|id| id.as_uuid()))
                .bind(category.description.as_str())
                .bind(category.updated_at)
                .execute(&self.pool)
                .await
                .map_err(|error| classify(error, &[("slug", "slug")]))?
                .rows_affected();
                if updated == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn get_category(&self, id: CategoryId) -> StoreResult<Option<Category>> {
                let row: Option<CategoryRow> = sqlx::query_as(
                    "SELECT id, name, slug, parent_id, description, created_at, updated_at FROM categories WHERE id = $1",
                )
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                row.map(Category::try_from).transpose()
            }

            async fn list_categories(&self) -> StoreResult<Vec<Category>> {
                let rows: Vec<CategoryRow> = sqlx::query_as(
                    "SELECT id, name, slug, parent_id, description, created_at, updated_at FROM categories \
                     ORDER BY name, id",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rows.into_iter().map(Category::try_from).collect()
            }

            async fn insert_product(&self, product: &Product) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO products (id, sku, name, name_key, slug, description, price_minor, currency, stock, \
                     active, category_id, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(product.id.as_uuid())
                .bind(product.sku.as_str())
                .bind(product.name.as_str())
                .bind(name_sort_key(product.name.as_str()))
                .bind(product.slug.as_str())
                .bind(product.description.as_str())
                .bind(product.price.amount_minor())
                .bind(product.price.currency().code())
                .bind(product.stock.units())
                .bind(product.active)
                .bind(product.category_id.map(|id| id.as_uuid()))
                .bind(product.created_at)
                .bind(product.updated_at)
                .execute(&self.pool)
                .await
                .map_err(|error| classify(error, &[("sku", "sku"), ("slug", "slug")]))?;
                Ok(())
            }

            async fn update_product(&self, product: &Product) -> StoreResult<()> {
                let updated = sqlx::query(
                    "UPDATE products SET name = $2, name_key = $3, slug = $4, description = $5, price_minor = $6, \
                     currency = $7, active = $8, category_id = $9, updated_at = $10 WHERE id = $1",
                )
                .bind(product.id.as_uuid())
                .bind(product.name.as_str())
                .bind(name_sort_key(product.name.as_str()))
                .bind(product.slug.as_str())
                .bind(product.description.as_str())
                .bind(product.price.amount_minor())
                .bind(product.price.currency().code())
                .bind(product.active)
                .bind(product.category_id.map(|id| id.as_uuid()))
                .bind(product.updated_at)
                .execute(&self.pool)
                .await
                .map_err(|error| classify(error, &[("slug", "slug")]))?
                .rows_affected();
                if updated == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn get_product(&self, id: ProductId) -> StoreResult<Option<Product>> {
                let row: Option<ProductRow> =
                    sqlx::query_as(concat!("SELECT ", $crate::adapters::sql_store::product_columns!(), " FROM products p WHERE p.id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                row.map(Product::try_from).transpose()
            }

            async fn get_product_by_slug(&self, slug: &Slug) -> StoreResult<Option<Product>> {
                let row: Option<ProductRow> =
                    sqlx::query_as(concat!("SELECT ", $crate::adapters::sql_store::product_columns!(), " FROM products p WHERE p.slug = $1"))
                        .bind(slug.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                row.map(Product::try_from).transpose()
            }

            async fn list_products(&self, query: &ProductQuery) -> StoreResult<Vec<Product>> {
                let filter = &query.filter;
                let mut sql = QueryBuilder::<$db>::new(concat!("SELECT ", $crate::adapters::sql_store::product_columns!(), " FROM products p WHERE 1 = 1"));
                if !filter.include_inactive {
                    sql.push(" AND p.active");
                }
                if let Some(category) = filter.category {
                    sql.push(
                        " AND p.category_id IN (WITH RECURSIVE tree (id) AS (SELECT id FROM categories WHERE id = ",
                    );
                    sql.push_bind(category.as_uuid());
                    sql.push(
                        " UNION ALL SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id) SELECT id FROM tree)",
                    );
                }
                if let Some(min) = filter.min_price_minor {
                    sql.push(" AND p.price_minor >= ").push_bind(min);
                }
                if let Some(max) = filter.max_price_minor {
                    sql.push(" AND p.price_minor <= ").push_bind(max);
                }
                if filter.in_stock_only {
                    sql.push(" AND p.stock > 0");
                }
                match &query.after {
                    None => {}
                    Some(ProductAfter::Newest(id)) => {
                        sql.push(" AND p.id < ").push_bind(id.as_uuid());
                    }
                    Some(ProductAfter::Price(price, id)) => {
                        let op = if query.sort == ProductSort::PriceDesc { " < " } else { " > " };
                        sql.push(" AND (p.price_minor, p.id)").push(op).push("(");
                        sql.push_bind(*price).push(", ").push_bind(id.as_uuid()).push(")");
                    }
                    Some(ProductAfter::Name(name, id)) => {
                        sql.push(" AND (p.name_key, p.id) > (");
                        sql.push_bind(name.clone()).push(", ").push_bind(id.as_uuid()).push(")");
                    }
                }
                sql.push(match query.sort {
                    ProductSort::Newest => " ORDER BY p.id DESC",
                    ProductSort::PriceAsc => " ORDER BY p.price_minor ASC, p.id ASC",
                    ProductSort::PriceDesc => " ORDER BY p.price_minor DESC, p.id DESC",
                    ProductSort::NameAsc => " ORDER BY p.name_key ASC, p.id ASC",
                });
                sql.push(" LIMIT ").push_bind(i64::from(query.limit));
                let rows: Vec<ProductRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(backend)?;
                rows.into_iter().map(Product::try_from).collect()
            }

            async fn search_products(&self, query: &SearchQuery) -> StoreResult<Vec<Product>> {
                self.search(query).await
            }

            async fn adjust_stock(&self, adjustment: &StockAdjustment) -> StoreResult<Product> {
                let mut tx = self.begin_write().await?;
                // SQLite refuses qualified names (`p.id`) in RETURNING, so the columns are bare here.
                let row: Option<ProductRow> = sqlx::query_as(
                    "UPDATE products SET stock = stock + $2, updated_at = $3 \
                     WHERE id = $1 AND stock + $2 >= 0 AND stock + $2 <= 1000000000 RETURNING \
                     id, sku, name, slug, description, price_minor, currency, stock, active, category_id, \
                     created_at, updated_at",
                )
                .bind(adjustment.product_id.as_uuid())
                .bind(adjustment.delta)
                .bind(adjustment.at)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
                let Some(row) = row else {
                    let stock: Option<(i64,)> = sqlx::query_as("SELECT stock FROM products WHERE id = $1")
                        .bind(adjustment.product_id.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(backend)?;
                    return Err(match stock {
                        Some((available,)) => StoreError::InsufficientStock { available },
                        None => StoreError::NotFound,
                    });
                };
                Self::record_stock_movement(
                    &mut tx,
                    adjustment.product_id,
                    adjustment.delta,
                    &adjustment.reason,
                    adjustment.actor,
                    None,
                    adjustment.at,
                )
                .await?;
                tx.commit().await.map_err(backend)?;
                Product::try_from(row)
            }
        }

        #[async_trait]
        impl CartStore for $store {
            async fn cart_lines(&self, user_id: UserId) -> StoreResult<Vec<CartLine>> {
                let rows: Vec<CartLineRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::adapters::sql_store::cart_line_columns!(),
                    " FROM cart_items ci JOIN products p ON p.id = ci.product_id WHERE ci.user_id = $1 \
                      ORDER BY ci.added_at, ci.id"
                ))
                .bind(user_id.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rows.into_iter().map(CartLine::try_from).collect()
            }

            async fn add_to_cart(
                &self,
                user_id: UserId,
                product_id: ProductId,
                quantity: Quantity,
                at: DateTime<Utc>,
            ) -> StoreResult<Quantity> {
                let mut tx = self.begin_write().await?;
                let row: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO cart_items (id, user_id, product_id, quantity, added_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = cart_items.quantity + excluded.quantity \
                     WHERE cart_items.quantity + excluded.quantity <= 1000 RETURNING quantity",
                )
                .bind(CartItemId::new().as_uuid())
                .bind(user_id.as_uuid())
                .bind(product_id.as_uuid())
                .bind(quantity.units())
                .bind(at)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
                let (units,) = row.ok_or(StoreError::Conflict)?;
                let quantity = Quantity::new(units).map_err(|error| StoreError::Backend(error.to_string().into()))?;
                Self::insert_events(&mut tx, &[Self::cart_updated(user_id, product_id, units, at)]).await?;
                tx.commit().await.map_err(backend)?;
                Ok(quantity)
            }

            async fn set_cart_quantity(
                &self,
                user_id: UserId,
                item_id: CartItemId,
                quantity: Quantity,
                at: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let updated: Option<(uuid::Uuid,)> = sqlx::query_as(
                    "UPDATE cart_items SET quantity = $3 WHERE id = $1 AND user_id = $2 RETURNING product_id",
                )
                .bind(item_id.as_uuid())
                .bind(user_id.as_uuid())
                .bind(quantity.units())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
                let Some((product_id,)) = updated else { return Ok(false) };
                let event = Self::cart_updated(user_id, ProductId::from_uuid(product_id), quantity.units(), at);
                Self::insert_events(&mut tx, &[event]).await?;
                tx.commit().await.map_err(backend)?;
                Ok(true)
            }

            async fn remove_cart_item(&self, user_id: UserId, item_id: CartItemId, at: DateTime<Utc>) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let deleted: Option<(uuid::Uuid,)> =
                    sqlx::query_as("DELETE FROM cart_items WHERE id = $1 AND user_id = $2 RETURNING product_id")
                        .bind(item_id.as_uuid())
                        .bind(user_id.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(backend)?;
                let Some((product_id,)) = deleted else { return Ok(false) };
                let event = Self::cart_updated(user_id, ProductId::from_uuid(product_id), 0, at);
                Self::insert_events(&mut tx, &[event]).await?;
                tx.commit().await.map_err(backend)?;
                Ok(true)
            }

            async fn clear_cart(&self, user_id: UserId) -> StoreResult<()> {
                sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
                    .bind(user_id.as_uuid())
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(())
            }
        }

        #[async_trait]
        impl OrderStore for $store {
            async fn checkout(&self, request: &CheckoutRequest) -> StoreResult<CheckoutOutcome> {
                match self.place_order(request).await {
                    // A concurrent request with the same key won the race: answer with its order.
                    Err(StoreError::Duplicate { field: "idempotency_key" }) => {
                        let mut tx = self.begin_write().await?;
                        Self::replay(&mut tx, request).await?.ok_or(StoreError::Conflict)
                    }
                    other => other,
                }
            }

            async fn get_order(&self, id: OrderId) -> StoreResult<Option<Order>> {
                let row: Option<OrderRow> =
                    sqlx::query_as(concat!("SELECT ", $crate::adapters::sql_store::order_columns!(), " FROM orders WHERE id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                let Some(row) = row else { return Ok(None) };
                Ok(Self::load_orders(&self.pool, vec![row]).await?.pop())
            }

            async fn list_orders(&self, query: &OrderQuery) -> StoreResult<Vec<Order>> {
                let mut sql = QueryBuilder::<$db>::new(concat!("SELECT ", $crate::adapters::sql_store::order_columns!(), " FROM orders WHERE 1 = 1"));
                if let Some(user_id) = query.user_id {
                    sql.push(" AND user_id = ").push_bind(user_id.as_uuid());
                }
                if let Some(status) = query.status {
                    sql.push(" AND status = ").push_bind(status.as_str());
                }
                if let Some(after) = query.after {
                    sql.push(" AND id < ").push_bind(after.as_uuid());
                }
                sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
                let rows: Vec<OrderRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(backend)?;
                Self::load_orders(&self.pool, rows).await
            }

            async fn transition_order(&self, transition: &OrderTransition) -> StoreResult<Order> {
                let mut tx = self.begin_write().await?;
                Self::apply_transition(&mut tx, transition).await?;
                let order = Self::order_in(&mut tx, transition.order_id).await?.ok_or(StoreError::NotFound)?;
                tx.commit().await.map_err(backend)?;
                Ok(order)
            }

            async fn status_history(&self, id: OrderId) -> StoreResult<Vec<StatusChange>> {
                let rows: Vec<StatusChangeRow> = sqlx::query_as(
                    "SELECT from_status, to_status, actor_id, changed_at FROM order_status_history \
                     WHERE order_id = $1 ORDER BY id",
                )
                .bind(id.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rows.into_iter().map(StatusChange::try_from).collect()
            }

            async fn sales_stats(&self, since: DateTime<Utc>, top: u32) -> StoreResult<SalesStats> {
                let days = format!(
                    "SELECT {day} AS day, currency, COUNT(*) AS orders, \
                     CAST(COALESCE(SUM(CASE WHEN status IN ('paid', 'fulfilling', 'shipped', 'delivered') \
                     THEN total_minor ELSE 0 END), 0) AS BIGINT) AS revenue_minor \
                     FROM orders WHERE placed_at >= $1 GROUP BY {day}, currency ORDER BY day, currency",
                    day = Self::DAY_OF_PLACED_AT
                );
                let days: Vec<DaySales> =
                    sqlx::query_as(&days).bind(since).fetch_all(&self.pool).await.map_err(backend)?;
                let top_products: Vec<TopProduct> = sqlx::query_as(
                    "SELECT i.product_id, MIN(i.sku) AS sku, MIN(i.name) AS name, o.currency, \
                     CAST(SUM(i.quantity) AS BIGINT) AS units, \
                     CAST(SUM(i.line_total_minor) AS BIGINT) AS revenue_minor \
                     FROM order_items i JOIN orders o ON o.id = i.order_id \
                     WHERE o.placed_at >= $1 AND o.status NOT IN ('cancelled', 'refunded') \
                     GROUP BY i.product_id, o.currency ORDER BY units DESC, revenue_minor DESC, i.product_id LIMIT $2",
                )
                .bind(since)
                .bind(i64::from(top))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                Ok(SalesStats { days, top_products })
            }

            async fn record_payment(
                &self,
                payment: &Payment,
                transition: Option<&OrderTransition>,
                events: &[OutboxEvent],
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(concat!(
                    "INSERT INTO payments (", $crate::adapters::sql_store::payment_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(payment.id.as_uuid())
                .bind(payment.order_id.as_uuid())
                .bind(payment.amount.amount_minor())
                .bind(payment.amount.currency().code())
                .bind(payment.provider.as_str())
                .bind(payment.reference.as_str())
                .bind(payment.status.as_str())
                .bind(payment.failure_reason.as_deref())
                .bind(payment.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|error| classify(error, &[("reference", "reference")]))?;
                if let Some(transition) = transition {
                    Self::apply_transition(&mut tx, transition).await?;
                }
                Self::insert_events(&mut tx, events).await?;
                tx.commit().await.map_err(backend)
            }

            async fn find_payment(&self, provider: &str, reference: &str) -> StoreResult<Option<Payment>> {
                let row: Option<PaymentRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::adapters::sql_store::payment_columns!(), " FROM payments WHERE provider = $1 AND reference = $2"
                ))
                .bind(provider)
                .bind(reference)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                row.map(Payment::try_from).transpose()
            }

            async fn list_payments(&self, order_id: OrderId) -> StoreResult<Vec<Payment>> {
                let rows: Vec<PaymentRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::adapters::sql_store::payment_columns!(), " FROM payments WHERE order_id = $1 ORDER BY created_at, id"
                ))
                .bind(order_id.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rows.into_iter().map(Payment::try_from).collect()
            }
        }

        #[async_trait]
        impl OutboxStore for $store {
            async fn pending_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
                let rows: Vec<OutboxRow> = sqlx::query_as(
                    "SELECT id, event_type, subject, payload, occurred_at FROM outbox WHERE published_at IS NULL \
                     ORDER BY occurred_at, id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                Ok(rows.into_iter().map(OutboxEvent::from).collect())
            }

            async fn pending_count(&self) -> StoreResult<u64> {
                let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(u64::try_from(count).unwrap_or_default())
            }

            async fn append_events(&self, events: &[OutboxEvent]) -> StoreResult<()> {
                if events.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                Self::insert_events(&mut tx, events).await?;
                tx.commit().await.map_err(backend)
            }

            async fn publish_pending(
                &self,
                limit: u32,
                publisher: &dyn EventPublisher,
            ) -> Result<usize, RelayError> {
                let mut tx = self.begin_write().await?;
                let claim = format!(
                    "SELECT id, event_type, subject, payload, occurred_at FROM outbox WHERE published_at IS NULL \
                     ORDER BY occurred_at, id LIMIT $1{}",
                    Self::LOCK_PENDING_ROWS
                );
                let rows: Vec<OutboxRow> = sqlx::query_as(&claim)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend)?;
                if rows.is_empty() {
                    tx.rollback().await.map_err(backend)?;
                    return Ok(0);
                }
                let events: Vec<CloudEvent> =
                    rows.into_iter().map(|row| CloudEvent::from_outbox(&OutboxEvent::from(row))).collect();
                let ids: Vec<uuid::Uuid> = events
                    .iter()
                    .map(|event| event.id.parse::<uuid::Uuid>().map_err(|error| StoreError::Backend(Box::new(error))))
                    .collect::<StoreResult<_>>()?;
                // `published_at` bound first, then the ids: placeholders are numbered in order.
                let mark = |published_at: Option<DateTime<Utc>>| {
                    let mut sql = QueryBuilder::<$db>::new("UPDATE outbox SET ");
                    match published_at {
                        Some(at) => sql.push("published_at = ").push_bind(at),
                        None => sql.push("attempts = attempts + 1"),
                    };
                    sql.push(" WHERE id IN (");
                    let mut list = sql.separated(", ");
                    for id in &ids {
                        list.push_bind(*id);
                    }
                    sql.push(")");
                    sql
                };
                match publisher.publish(&events).await {
                    Ok(()) => {
                        mark(Some(Utc::now())).build().execute(&mut *tx).await.map_err(backend)?;
                        tx.commit().await.map_err(backend)?;
                        Ok(events.len())
                    }
                    Err(source) => {
                        // The claim ends first: the attempts are counted in a statement of their own.
                        tx.rollback().await.map_err(backend)?;
                        mark(None).build().execute(&self.pool).await.map_err(backend)?;
                        Err(RelayError::Publish { count: events.len(), source })
                    }
                }
            }
        }
    };
}

pub(crate) use {
    address_columns, cart_line_columns, order_columns, payment_columns, product_columns,
    user_columns,
};
