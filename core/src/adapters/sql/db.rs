//! The one way SQL runs on both databases. Statements are written once in the SQL both accept
//! (`$N` parameters, `ON CONFLICT`, `RETURNING`, row values, recursive CTEs); a [`Sql`] holds the
//! text and its bound [`Value`]s and runs on a pool ([`Db`]) or a write transaction ([`Tx`]) of
//! either backend. What the backends do differently is data, not code: see [`Dialect`].
//!
//! ```ignore
//! // A row, parsed into the domain value it stores (`UserRow` → `User`).
//! let user: Option<User> = Sql::new(include_str!("queries/users/select.sql"))
//!     .push(" WHERE id = ")
//!     .push_bind(id.as_uuid())
//!     .fetch_parsed::<UserRow, _>(&db)
//!     .await?;
//! // Inside a write transaction, committed with whatever else it holds.
//! let mut tx = db.begin().await?;
//! Sql::new("DELETE FROM cart_items WHERE user_id = $1")
//!     .bind(user_id.as_uuid())
//!     .execute(&mut tx)
//!     .await?;
//! tx.commit().await?;
//! ```

use chrono::{DateTime, Utc};
use sqlx::{
    Arguments as _, Database, Encode, FromRow, PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    Type, error::BoxDynError, postgres::PgRow, sqlite::SqliteRow, types::Json,
};
use tracing::Instrument as _;
use uuid::Uuid;

use super::dialect::Dialect;
use crate::{
    adapters::{
        ConnectError,
        postgres::{self, PgStore},
        sqlite::{self, SqliteStore},
    },
    config::DatabaseUrl,
    ports::{StoreError, StoreResult},
};

/// A pool on the shop's database, either backend.
#[derive(Debug, Clone)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A write transaction on either backend. Dropping it rolls back. The span (traced only, see
/// [`transaction_span`]) lasts from begin to commit or rollback.
#[derive(Debug)]
pub enum Tx {
    Postgres(Transaction<'static, Postgres>, tracing::Span),
    Sqlite(Transaction<'static, Sqlite>, tracing::Span),
}

/// The span of a transaction begun inside a traced span; none otherwise, so the relay's polling
/// and untraced work start no traces of their own.
fn transaction_span(system: &'static str) -> tracing::Span {
    if !crate::telemetry::enabled() || tracing::Span::current().is_none() {
        return tracing::Span::none();
    }
    tracing::debug_span!(
        "db.transaction",
        otel.name = "db transaction",
        otel.kind = "client",
        db.system.name = system,
    )
}

impl Db {
    /// Opens a pool on the database `url` names, either backend, without touching its schema.
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, ConnectError> {
        Ok(if url.is_sqlite() {
            Self::Sqlite(
                SqliteStore::connect(url, max_connections)
                    .await?
                    .into_pool(),
            )
        } else {
            Self::Postgres(PgStore::connect(url, max_connections).await?.into_pool())
        })
    }

    /// A pool on the database `url` names that connects when first used, so a program can check
    /// its other settings before it waits for the database; fails only on a malformed URL.
    /// `application` names the program to PostgreSQL.
    pub fn connect_lazy(
        url: &DatabaseUrl,
        max_connections: u32,
        application: &str,
    ) -> Result<Self, ConnectError> {
        let error = ConnectError::connecting(url);
        Ok(if url.is_sqlite() {
            Self::Sqlite(sqlite::lazy(url, max_connections).map_err(error)?)
        } else {
            Self::Postgres(postgres::lazy(url, max_connections, application).map_err(error)?)
        })
    }

    /// `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        self.dialect().name
    }

    /// How this backend's SQL differs.
    pub fn dialect(&self) -> &'static Dialect {
        match self {
            Self::Postgres(_) => &postgres::DIALECT,
            Self::Sqlite(_) => &sqlite::DIALECT,
        }
    }

    /// Starts a write transaction. SQLite's begins with `BEGIN IMMEDIATE`, so it holds the write
    /// lock from its first read and never fails to upgrade a read lock half-way.
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match self {
            Self::Postgres(pool) => {
                let span = transaction_span("postgresql");
                let tx = pool.begin().instrument(span.clone()).await;
                Tx::Postgres(tx.map_err(backend)?, span)
            }
            Self::Sqlite(pool) => {
                let span = transaction_span("sqlite");
                let tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .instrument(span.clone())
                    .await;
                Tx::Sqlite(tx.map_err(backend)?, span)
            }
        })
    }

    /// Succeeds when the database answers a query.
    pub async fn ping(&self) -> StoreResult<()> {
        Sql::new("SELECT 1").execute(self).await.map(drop)
    }

    /// Connections open in the pool, and how many of them are idle.
    pub fn pool_status(&self) -> crate::ports::PoolStatus {
        let (size, idle) = match self {
            Self::Postgres(pool) => (pool.size(), pool.num_idle()),
            Self::Sqlite(pool) => (pool.size(), pool.num_idle()),
        };
        crate::ports::PoolStatus {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
        }
    }
}

impl Tx {
    /// How this backend's SQL differs.
    pub fn dialect(&self) -> &'static Dialect {
        match self {
            Self::Postgres(..) => &postgres::DIALECT,
            Self::Sqlite(..) => &sqlite::DIALECT,
        }
    }

    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Self::Postgres(tx, span) => tx.commit().instrument(span).await,
            Self::Sqlite(tx, span) => tx.commit().instrument(span).await,
        }
        .map_err(backend)
    }

    pub async fn rollback(self) -> StoreResult<()> {
        match self {
            Self::Postgres(tx, span) => tx.rollback().instrument(span).await,
            Self::Sqlite(tx, span) => tx.rollback().instrument(span).await,
        }
        .map_err(backend)
    }
}

/// Where a statement runs: on the pool, or inside a transaction.
#[derive(Debug)]
pub enum Conn<'a> {
    Pool(&'a Db),
    Tx(&'a mut Tx),
}

impl<'a> From<&'a Db> for Conn<'a> {
    fn from(db: &'a Db) -> Self {
        Self::Pool(db)
    }
}

impl<'a> From<&'a mut Tx> for Conn<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        Self::Tx(tx)
    }
}

/// A value bound to a statement. Every variant is nullable and typed, so that Postgres knows the
/// type of a `NULL` parameter too.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Uuid(Option<Uuid>),
    Int(Option<i64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
    Json(Option<serde_json::Value>),
}

macro_rules! value_from {
    ($($type:ty => $variant:ident($convert:expr)),* $(,)?) => {
        $(
            impl From<$type> for Value {
                fn from(value: $type) -> Self {
                    Self::$variant(Some($convert(value)))
                }
            }

            impl From<Option<$type>> for Value {
                fn from(value: Option<$type>) -> Self {
                    Self::$variant(value.map($convert))
                }
            }
        )*
    };
}

value_from! {
    Uuid => Uuid(std::convert::identity),
    i64 => Int(std::convert::identity),
    bool => Bool(std::convert::identity),
    String => Text(std::convert::identity),
    &str => Text(str::to_owned),
    &String => Text(String::clone),
    DateTime<Utc> => Time(std::convert::identity),
    serde_json::Value => Json(std::convert::identity),
    &serde_json::Value => Json(serde_json::Value::clone),
}

/// A row type both backends can decode (`#[derive(sqlx::FromRow)]` structs and tuples are).
pub trait Record:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

impl<T> Record for T where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

/// A statement and the values bound to its `$N` parameters, in order.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    values: Vec<Value>,
    /// Unique constraints this statement may violate: (a word in the constraint's name or
    /// SQLite's message, the field reported as taken).
    unique: &'static [(&'static str, &'static str)],
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// Binds the next `$N` parameter written in the text.
    #[must_use]
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.values.push(value.into());
        self
    }

    /// Appends text (never input: values go through [`Self::push_bind`]).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a new `$N` parameter bound to `value`.
    pub fn push_bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        let placeholder = format!("${}", self.values.len());
        self.text.push_str(&placeholder);
        self
    }

    /// Appends `(v1, v2, …), (…)`: one parenthesised tuple of parameters per row.
    pub fn push_rows<I, R>(&mut self, rows: I) -> &mut Self
    where
        I: IntoIterator<Item = R>,
        R: IntoIterator<Item = Value>,
    {
        for (index, row) in rows.into_iter().enumerate() {
            self.push(if index == 0 { "(" } else { ", (" });
            for (column, value) in row.into_iter().enumerate() {
                if column > 0 {
                    self.push(", ");
                }
                self.push_bind(value);
            }
            self.push(")");
        }
        self
    }

    /// A violation of one of these unique constraints is reported as
    /// `StoreError::Duplicate { field }` rather than a backend failure.
    #[must_use]
    pub fn unique(mut self, constraints: &'static [(&'static str, &'static str)]) -> Self {
        self.unique = constraints;
        self
    }

    /// Runs the statement; how many rows it changed.
    pub async fn execute(&self, conn: impl Into<Conn<'_>>) -> StoreResult<u64> {
        match conn.into() {
            Conn::Pool(Db::Postgres(pool)) => {
                let query = sqlx::query_with(&self.text, self.arguments::<Postgres>()?);
                query.execute(pool).await.map(|done| done.rows_affected())
            }
            Conn::Pool(Db::Sqlite(pool)) => {
                let query = sqlx::query_with(&self.text, self.arguments::<Sqlite>()?);
                query.execute(pool).await.map(|done| done.rows_affected())
            }
            Conn::Tx(Tx::Postgres(tx, _)) => {
                let query = sqlx::query_with(&self.text, self.arguments::<Postgres>()?);
                query
                    .execute(&mut **tx)
                    .await
                    .map(|done| done.rows_affected())
            }
            Conn::Tx(Tx::Sqlite(tx, _)) => {
                let query = sqlx::query_with(&self.text, self.arguments::<Sqlite>()?);
                query
                    .execute(&mut **tx)
                    .await
                    .map(|done| done.rows_affected())
            }
        }
        .map_err(|error| self.error(error))
    }

    pub async fn fetch_all<T: Record>(&self, conn: impl Into<Conn<'_>>) -> StoreResult<Vec<T>> {
        match conn.into() {
            Conn::Pool(Db::Postgres(pool)) => {
                let query = sqlx::query_as_with(&self.text, self.arguments::<Postgres>()?);
                query.fetch_all(pool).await
            }
            Conn::Pool(Db::Sqlite(pool)) => {
                let query = sqlx::query_as_with(&self.text, self.arguments::<Sqlite>()?);
                query.fetch_all(pool).await
            }
            Conn::Tx(Tx::Postgres(tx, _)) => {
                let query = sqlx::query_as_with(&self.text, self.arguments::<Postgres>()?);
                query.fetch_all(&mut **tx).await
            }
            Conn::Tx(Tx::Sqlite(tx, _)) => {
                let query = sqlx::query_as_with(&self.text, self.arguments::<Sqlite>()?);
                query.fetch_all(&mut **tx).await
            }
        }
        .map_err(|error| self.error(error))
    }

    pub async fn fetch_optional<T: Record>(
        &self,
        conn: impl Into<Conn<'_>>,
    ) -> StoreResult<Option<T>> {
        match conn.into() {
            Conn::Pool(Db::Postgres(pool)) => {
                let query = sqlx::query_as_with(&self.text, self.arguments::<Postgres>()?);
                query.fetch_optional(pool).await
            }
            Conn::Pool(Db::Sqlite(pool)) => {
                let query = sqlx::query_as_with(&self.text, self.arguments::<Sqlite>()?);
                query.fetch_optional(pool).await
            }
            Conn::Tx(Tx::Postgres(tx, _)) => {
                let query = sqlx::query_as_with(&self.text, self.arguments::<Postgres>()?);
                query.fetch_optional(&mut **tx).await
            }
            Conn::Tx(Tx::Sqlite(tx, _)) => {
                let query = sqlx::query_as_with(&self.text, self.arguments::<Sqlite>()?);
                query.fetch_optional(&mut **tx).await
            }
        }
        .map_err(|error| self.error(error))
    }

    /// Runs an `UPDATE` of one row; `NotFound` when no row matched.
    pub async fn execute_found(&self, conn: impl Into<Conn<'_>>) -> StoreResult<()> {
        match self.execute(conn).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// The row, if any, parsed into the domain value it stores.
    pub async fn fetch_parsed<R, T>(&self, conn: impl Into<Conn<'_>>) -> StoreResult<Option<T>>
    where
        R: Record,
        T: TryFrom<R, Error = StoreError>,
    {
        self.fetch_optional::<R>(conn)
            .await?
            .map(T::try_from)
            .transpose()
    }

    /// Every row, parsed into the domain values they store.
    pub async fn fetch_all_parsed<R, T>(&self, conn: impl Into<Conn<'_>>) -> StoreResult<Vec<T>>
    where
        R: Record,
        T: TryFrom<R, Error = StoreError>,
    {
        self.fetch_all::<R>(conn)
            .await?
            .into_iter()
            .map(T::try_from)
            .collect()
    }

    /// The one row the statement returns (an aggregate, `RETURNING` of an upsert).
    pub async fn fetch_one<T: Record>(&self, conn: impl Into<Conn<'_>>) -> StoreResult<T> {
        self.fetch_optional(conn)
            .await?
            .ok_or_else(|| StoreError::Backend("the statement returned no row".into()))
    }

    /// The values in the driver's form; a value the driver cannot encode is a backend error.
    fn arguments<DB: Bind>(&self) -> StoreResult<DB::Arguments<'_>> {
        DB::arguments(&self.values).map_err(|error| backend(sqlx::Error::Encode(error)))
    }

    fn error(&self, error: sqlx::Error) -> StoreError {
        classify(error, self.unique)
    }
}

/// A backend whose driver encodes every kind of [`Value`].
trait Bind: Database {
    fn arguments(values: &[Value]) -> Result<Self::Arguments<'_>, BoxDynError>;
}

impl<DB> Bind for DB
where
    DB: Database,
    for<'q> Option<Uuid>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<bool>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Json<&'q serde_json::Value>>: Encode<'q, DB> + Type<DB>,
{
    fn arguments(values: &[Value]) -> Result<Self::Arguments<'_>, BoxDynError> {
        let mut arguments = Self::Arguments::default();
        for value in values {
            match value {
                Value::Uuid(value) => arguments.add(*value)?,
                Value::Int(value) => arguments.add(*value)?,
                Value::Text(value) => arguments.add(value.as_deref())?,
                Value::Bool(value) => arguments.add(*value)?,
                Value::Time(value) => arguments.add(*value)?,
                Value::Json(value) => arguments.add(value.as_ref().map(Json))?,
            }
        }
        Ok(arguments)
    }
}

/// Maps a violation of one of `unique` to the field it protects; anything else is a backend
/// error.
pub fn classify(error: sqlx::Error, unique: &[(&str, &'static str)]) -> StoreError {
    if let Some(db) = error.as_database_error()
        && db.is_unique_violation()
    {
        // Postgres names the constraint; SQLite names the columns in the message.
        let haystack = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
        for (needle, field) in unique {
            if haystack.contains(needle) {
                return StoreError::Duplicate { field };
            }
        }
    }
    StoreError::Backend(Box::new(error))
}

pub fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}
