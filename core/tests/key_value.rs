//! The key-value contract, run against Redis (127.0.0.1:6379, or `SHOP_TEST_REDIS_URL`) and the
//! in-process adapter. Each Redis test works under its own key prefix.

use std::{sync::Arc, time::Duration};

use shop_core::{
    adapters::{memory::MemoryKeyValue, redis::RedisKeyValue},
    ports::KeyValueStore,
};
use shop_testing::{redis_url, unique_redis_prefix};

async fn redis() -> Arc<dyn KeyValueStore> {
    Arc::new(
        RedisKeyValue::connect(&redis_url(), unique_redis_prefix())
            .await
            .expect("Redis is running on 127.0.0.1:6379"),
    )
}

async fn memory() -> Arc<dyn KeyValueStore> {
    Arc::new(MemoryKeyValue::new())
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod on_redis {
            $(#[tokio::test] async fn $name() { super::$name(super::redis().await).await })*
        }
        mod in_process {
            $(#[tokio::test] async fn $name() { super::$name(super::memory().await).await })*
        }
    };
}

contract!(
    values_round_trip_and_expire,
    set_if_absent_stores_once,
    take_hands_a_value_to_exactly_one_caller,
    counters_count_within_their_window,
    delete_reports_whether_the_key_existed,
);

async fn values_round_trip_and_expire(kv: Arc<dyn KeyValueStore>) {
    kv.set("a", b"one", Duration::from_millis(300))
        .await
        .expect("set");
    assert_eq!(kv.get("a").await.expect("get"), Some(b"one".to_vec()));
    assert_eq!(kv.get("missing").await.expect("get"), None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        kv.get("a").await.expect("get"),
        None,
        "expired entries are gone"
    );
}

async fn set_if_absent_stores_once(kv: Arc<dyn KeyValueStore>) {
    assert!(
        kv.set_if_absent("k", b"first", Duration::from_secs(60))
            .await
            .expect("set")
    );
    assert!(
        !kv.set_if_absent("k", b"second", Duration::from_secs(60))
            .await
            .expect("set")
    );
    assert_eq!(kv.get("k").await.expect("get"), Some(b"first".to_vec()));
}

async fn take_hands_a_value_to_exactly_one_caller(kv: Arc<dyn KeyValueStore>) {
    kv.set("token", b"secret", Duration::from_secs(60))
        .await
        .expect("set");
    let takers = (0..16).map(|_| {
        let kv = Arc::clone(&kv);
        tokio::spawn(async move { kv.take("token").await.expect("take") })
    });
    let mut taken = 0;
    for taker in takers {
        if taker.await.expect("joined").is_some() {
            taken += 1;
        }
    }
    assert_eq!(taken, 1);
    assert_eq!(kv.get("token").await.expect("get"), None);
}

async fn counters_count_within_their_window(kv: Arc<dyn KeyValueStore>) {
    let window = Duration::from_millis(500);
    for expected in 1..=5 {
        let (count, remaining) = kv.increment("hits", window).await.expect("increment");
        assert_eq!(count, expected);
        assert!(
            remaining <= window && remaining > Duration::ZERO,
            "{remaining:?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        kv.increment("hits", window).await.expect("increment").0,
        1,
        "a new window starts at one"
    );
}

async fn delete_reports_whether_the_key_existed(kv: Arc<dyn KeyValueStore>) {
    kv.set("d", b"x", Duration::from_secs(60))
        .await
        .expect("set");
    assert!(kv.delete("d").await.expect("delete"));
    assert!(!kv.delete("d").await.expect("delete"));
}
