//! Readable order numbers (`SO-2026-000123`): issued at checkout, unique under concurrency,
//! searchable, carried by the events, and given to the orders that existed before them.

use std::{borrow::Cow, collections::HashSet, path::Path};

use chrono::{Datelike as _, TimeZone as _, Utc};
use shop_core::{
    adapters::connect_and_migrate,
    app::{AppError, ListOrders},
    config::DatabaseUrl,
    domain::{OrderId, OrderNumber},
};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::support::{
    TestShop, add_to_cart, admin, checkout_command, create_product, events_of_type,
    expect_validation, place_order, register_customer, register_customers,
};

/// Whether `number` reads `SO-<year>-<six digits at least>`.
fn well_formed(number: &str, year: i32) -> bool {
    let Some(seq) = number.strip_prefix(&format!("SO-{year}-")) else {
        return false;
    };
    seq.len() >= 6 && seq.bytes().all(|b| b.is_ascii_digit())
}

async fn by_number(
    t: &TestShop,
    actor: &shop_core::app::Actor,
    all: bool,
    raw: &str,
) -> Vec<OrderId> {
    t.list_orders(
        actor,
        ListOrders {
            all_users: all,
            number: Some(raw.to_owned()),
            ..ListOrders::default()
        },
    )
    .await
    .expect("list by number")
    .items
    .into_iter()
    .map(|order| order.id)
    .collect()
}

async fn checkouts_number_orders_in_sequence_and_find_them_by_number(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let (_, bob) = register_customer(&t, "bob@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;

    let first = place_order(&t, &ada, mug.id, 1).await;
    let second = place_order(&t, &bob, mug.id, 1).await;
    let third = place_order(&t, &ada, mug.id, 1).await;
    let year = Utc::now().year();
    for order in [&first, &second, &third] {
        let text = order.number.to_string();
        assert!(well_formed(&text, year), "{text}");
        assert_eq!(OrderNumber::parse(&text), Ok(order.number));
    }
    assert_eq!(
        [first.number.seq(), second.number.seq(), third.number.seq()],
        [1, 2, 3],
        "a fresh shop numbers its orders 1, 2, 3"
    );
    // What checkout answered is what is stored.
    let stored = t.get_order(&ada, first.id).await.expect("get");
    assert_eq!(stored.number, first.number);

    // Customers find their own orders by number, in any case; never someone else's.
    let text = first.number.to_string();
    assert_eq!(by_number(&t, &ada, false, &text).await, vec![first.id]);
    assert_eq!(
        by_number(&t, &ada, false, &text.to_lowercase()).await,
        vec![first.id]
    );
    assert_eq!(by_number(&t, &bob, false, &text).await, vec![]);
    // Staff find anyone's.
    assert_eq!(
        by_number(&t, &admin(), true, &second.number.to_string()).await,
        vec![second.id]
    );
    // The year is part of the number: the right sequence with the wrong year finds nothing.
    let wrong_year = format!("SO-{}-{:06}", year - 1, first.number.seq());
    assert_eq!(by_number(&t, &admin(), true, &wrong_year).await, vec![]);
    // Combined with the other filters.
    let cancelled = t.cancel_order(&ada, third.id).await.expect("cancel");
    assert_eq!(
        cancelled.number, third.number,
        "a status change keeps the number"
    );
    let query = ListOrders {
        status: Some("pending_payment".into()),
        number: Some(third.number.to_string()),
        ..ListOrders::default()
    };
    let found = t.list_orders(&ada, query).await.expect("list");
    assert!(found.items.is_empty(), "{found:?}");

    for bad in [
        "",
        "123",
        "SO-2026",
        "SO-26-000001",
        first.id.to_string().as_str(),
    ] {
        expect_validation(
            t.list_orders(
                &ada,
                ListOrders {
                    number: Some(bad.to_owned()),
                    ..ListOrders::default()
                },
            )
            .await,
            &["number"],
        );
    }

    // The events carry it, for the emails and whoever else reads them.
    let placed = events_of_type(&t, "dev.shop.order.placed.v1").await;
    let numbers: HashSet<_> = placed
        .iter()
        .map(|event| {
            event.payload["order_number"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let expected: HashSet<_> = [&first, &second, &third]
        .iter()
        .map(|order| order.number.to_string())
        .collect();
    assert_eq!(numbers, expected);
    let changed = events_of_type(&t, "dev.shop.order.status_changed.v1").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(
        changed[0].payload["order_number"],
        third.number.to_string(),
        "{changed:?}"
    );
}

async fn concurrent_checkouts_never_share_a_number(t: TestShop) {
    const BUYERS: usize = 30;
    let mug = create_product(&t, "MUG-1", 1_000, BUYERS as i64).await;
    let spoon = create_product(&t, "SPOON-1", 300, BUYERS as i64).await;
    let buyers = register_customers(&t, "buyer", BUYERS).await;
    for (i, (_, buyer)) in buyers.iter().enumerate() {
        // Half buy the same product (one hot row), half another: both paths take numbers.
        add_to_cart(&t, buyer, if i % 2 == 0 { mug.id } else { spoon.id }, 1).await;
    }
    let attempts: Vec<_> = buyers
        .iter()
        .map(|(_, buyer)| {
            let shop = t.shop.clone();
            let buyer = *buyer;
            tokio::spawn(async move { shop.checkout(&buyer, checkout_command("buy")).await })
        })
        .collect();
    let mut numbers = HashSet::new();
    for attempt in futures::future::join_all(attempts).await {
        let order = attempt.expect("task").expect("checkout").order;
        assert_ne!(order.number, OrderNumber::UNASSIGNED);
        assert!(numbers.insert(order.number), "{} twice", order.number);
    }
    assert_eq!(numbers.len(), BUYERS);
    // Nothing rolled back here, so the numbers are exactly 1..=BUYERS on both backends.
    let mut seqs: Vec<_> = numbers.iter().map(|number| number.seq()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=BUYERS as i64).collect::<Vec<_>>());
}

async fn a_refused_checkout_changes_no_number_and_a_replay_keeps_its_own(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let (_, bob) = register_customer(&t, "bob@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 1).await;
    let spoon = create_product(&t, "SPOON-1", 300, 5).await;
    add_to_cart(&t, &ada, mug.id, 1).await;
    add_to_cart(&t, &bob, mug.id, 1).await;
    let first = t
        .checkout(&ada, checkout_command("one"))
        .await
        .expect("placed");
    assert_eq!(first.order.number.seq(), 1);
    // Ada bought the last mug: Bob's checkout is refused and takes no number.
    let refused = t.checkout(&bob, checkout_command("mug")).await;
    assert!(
        matches!(refused, Err(AppError::InsufficientStock { .. })),
        "{refused:?}"
    );
    let placed = place_order(&t, &ada, spoon.id, 1).await;
    assert_eq!(placed.number.seq(), 2, "no gap after a refused checkout");
    let replayed = t
        .checkout(&ada, checkout_command("one"))
        .await
        .expect("replay");
    assert!(replayed.replayed);
    assert_eq!(replayed.order.number, first.order.number);
}

contract_tests!(
    checkouts_number_orders_in_sequence_and_find_them_by_number,
    concurrent_checkouts_never_share_a_number,
    a_refused_checkout_changes_no_number_and_a_replay_keeps_its_own,
);

// ---------------------------------------------------------------------------------------------
// The migration numbers the orders that existed before it.

const MIGRATION: i64 = 20261205000200;

/// The migrations of `backend` that come before order numbers.
async fn migrations_before_numbers(backend: &str) -> Migrator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut migrator = Migrator::new(dir).await.expect("read the migrations");
    let earlier: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|migration| migration.version < MIGRATION)
        .cloned()
        .collect();
    migrator.migrations = Cow::Owned(earlier);
    migrator
}

/// Three orders placed in 2025 and 2026, written in a different order than they were placed.
fn old_orders() -> Vec<(Uuid, chrono::DateTime<Utc>)> {
    let at = |y, m, d| {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0)
            .single()
            .expect("date")
    };
    vec![
        (Uuid::now_v7(), at(2026, 3, 1)),
        (Uuid::now_v7(), at(2025, 12, 31)),
        (Uuid::now_v7(), at(2026, 1, 2)),
    ]
}

macro_rules! seed_old_orders {
    ($pool:expr, $orders:expr) => {{
        let user = Uuid::now_v7();
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO users (id, email, full_name, role, password_hash, created_at, updated_at) \
             VALUES ($1, 'old@example.com', 'Old Customer', 'customer', 'x', $2, $2)",
        )
        .bind(user)
        .bind(now)
        .execute($pool)
        .await
        .expect("seed a user");
        for (id, placed_at) in $orders {
            sqlx::query(
                "INSERT INTO orders (id, user_id, status, currency, subtotal_minor, tax_minor, \
                 total_minor, placed_at, updated_at) \
                 VALUES ($1, $2, 'paid', 'EUR', 100, 0, 100, $3, $3)",
            )
            .bind(*id)
            .bind(user)
            .bind(*placed_at)
            .execute($pool)
            .await
            .expect("seed an order");
        }
    }};
}

/// After the migration the old orders are numbered by when they were placed, and the next
/// checkout continues after them.
async fn check_backfill(url: &DatabaseUrl, orders: &[(Uuid, chrono::DateTime<Utc>)]) {
    let store = connect_and_migrate(url, 2).await.expect("migrate the rest");
    let t = shop_core::app::Shop::new(store, shop_core::app::ShopSettings::default());
    let expected = [
        (orders[1].0, "SO-2025-000001"),
        (orders[2].0, "SO-2026-000002"),
        (orders[0].0, "SO-2026-000003"),
    ];
    for (id, number) in expected {
        let order = t
            .get_order(&admin(), OrderId::from_uuid(id))
            .await
            .expect("old order");
        assert_eq!(order.number.to_string(), number);
    }
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let next = place_order(&t, &ada, mug.id, 1).await;
    assert_eq!(
        next.number.seq(),
        4,
        "numbering continues after the old orders"
    );
}

mod backfill {
    use super::*;

    #[tokio::test]
    async fn postgres() {
        let database = shop_testing::PgDatabase::create().await;
        let pool = sqlx::PgPool::connect(database.url())
            .await
            .expect("connect");
        migrations_before_numbers("postgres")
            .await
            .run(&pool)
            .await
            .expect("earlier migrations");
        let orders = old_orders();
        seed_old_orders!(&pool, &orders);
        pool.close().await;
        let url = DatabaseUrl::parse(database.url()).expect("url");
        check_backfill(&url, &orders).await;
    }

    #[tokio::test]
    async fn sqlite() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("shop.db");
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("open");
        migrations_before_numbers("sqlite")
            .await
            .run(&pool)
            .await
            .expect("earlier migrations");
        let orders = old_orders();
        seed_old_orders!(&pool, &orders);
        pool.close().await;
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).expect("url");
        check_backfill(&url, &orders).await;
    }
}
