//! What PostgreSQL and SQLite do differently, as data: each backend's module
//! ([`super::postgres`], [`super::sqlite`]) fills in one [`Dialect`].

/// The few places where one statement cannot serve both backends.
#[derive(Debug)]
pub struct Dialect {
    /// `postgres` or `sqlite`, for logs and the start-up banner.
    pub name: &'static str,
    /// Appended to a `SELECT` of one row that the transaction must own until it ends (empty
    /// where the write transaction already excludes other writers).
    pub lock_row: &'static str,
    /// Appended to checkout's `SELECT` of the cart's products (aliased `p`).
    pub lock_products: &'static str,
    /// Appended to the relay's claim of pending outbox rows: concurrent relays must take
    /// disjoint batches.
    pub lock_pending: &'static str,
    /// The next order number, as `orders/insert.sql`'s `{next_number}` (see the
    /// `20261205000200_order_numbers` migrations for why each backend does it its way).
    pub next_order_number: &'static str,
    /// The lock checkout's stock update takes on the products, in id order, before it changes
    /// them (empty where the write transaction already excludes other writers).
    pub lock_in_order: &'static str,
    /// Sales per UTC day and currency since `$1`.
    pub sales_by_day: &'static str,
    /// Full-text search: `$1` the prepared terms, `$2` limit, `$3` offset; `{active}` is
    /// replaced by [`ACTIVE_ONLY`] or nothing.
    pub search: &'static str,
    /// The search terms as [`Self::search`]'s `$1` expects them.
    pub search_terms: fn(&[String]) -> String,
}

/// The filter `{active}` stands for in [`Dialect::search`] unless inactive products are wanted.
pub const ACTIVE_ONLY: &str = " AND p.active";
