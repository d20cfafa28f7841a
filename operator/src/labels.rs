//! The recommended `app.kubernetes.io/*` labels on every object the operator creates.

use std::collections::BTreeMap;

/// `app.kubernetes.io/managed-by` value; also the server-side apply field manager.
pub const MANAGER: &str = "shop-operator";
/// `app.kubernetes.io/part-of` value.
pub const PART_OF: &str = "shop";
/// Label naming the Worker a worker pod belongs to.
pub const WORKER_LABEL: &str = "shop.dev/worker";
/// Label naming the Backup a backup Job belongs to.
pub const BACKUP_LABEL: &str = "shop.dev/backup";
/// Label carrying the shop version a migration Job runs.
pub const VERSION_LABEL: &str = "app.kubernetes.io/version";

/// Labels that select one component's pods. Stable for the life of the object: Deployment and
/// StatefulSet selectors are immutable, so nothing version-dependent goes here.
pub fn selector(app: &str, instance: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), app.to_owned()),
        ("app.kubernetes.io/instance".to_owned(), instance.to_owned()),
        (
            "app.kubernetes.io/component".to_owned(),
            component.to_owned(),
        ),
    ])
}

/// The selector labels plus the descriptive ones, for metadata and pod templates.
pub fn full(
    app: &str,
    instance: &str,
    component: &str,
    version: Option<&str>,
) -> BTreeMap<String, String> {
    let mut labels = selector(app, instance, component);
    labels.insert("app.kubernetes.io/part-of".to_owned(), PART_OF.to_owned());
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        MANAGER.to_owned(),
    );
    if let Some(version) = version {
        labels.insert(VERSION_LABEL.to_owned(), version.to_owned());
    }
    labels
}

/// Labels every pod of a shop carries, whatever its component; NetworkPolicies admit these.
pub fn shop_member(shop: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/instance".to_owned(), shop.to_owned()),
        ("app.kubernetes.io/part-of".to_owned(), PART_OF.to_owned()),
    ])
}

/// A label selector as the string form Kubernetes uses (`a=b,c=d`).
pub fn to_selector_string(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}
