//! The credentials of a managed backend and the URL the shop connects with.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use super::credentials_secret::{GENERATED_NOTE, GENERATED_NOTE_ANNOTATION};
use super::secret_values::{SecretValues, encode_userinfo};
use super::{backend_labels, keeps_volume, secret_meta};
use crate::crd::Shop;
use crate::names::{self, Backend};

/// Key of the user name in a backend Secret.
pub const USERNAME_KEY: &str = "username";
/// Key of the password in a backend Secret.
pub const PASSWORD_KEY: &str = "password";
/// Key of the database name in the PostgreSQL Secret.
pub const DATABASE_KEY: &str = "database";
/// Key of the Erlang distribution cookie in the RabbitMQ Secret.
pub const COOKIE_KEY: &str = "erlang-cookie";

/// User (and PostgreSQL database) the operator creates on a managed server.
const SHOP_USER: &str = "shop";
/// Redis' built-in ACL user, the one `--requirepass` sets the password of.
const REDIS_USER: &str = "default";

/// The Secret of a managed backend: `username`, `password`, `url` (plus `database` for
/// PostgreSQL, `erlang-cookie` for RabbitMQ). Values in `existing` are kept verbatim and only
/// missing ones generated; the URL is always rebuilt from the kept values. Owned by the Shop only
/// when the backend's volume is deleted with it ([`keeps_volume`]).
pub fn backend_secret(
    shop: &Shop,
    backend: Backend,
    existing: Option<&Secret>,
    new_secret: &dyn Fn() -> String,
) -> Secret {
    let shop_name = shop.name_any();
    let namespace = shop.namespace().unwrap_or_default();
    let mut values = SecretValues::new(existing, new_secret);
    let default_user = match backend {
        Backend::Redis => REDIS_USER,
        Backend::Postgres | Backend::RabbitMq => SHOP_USER,
    };
    let username = values.kept_or(USERNAME_KEY, default_user);
    let password = values.generated(PASSWORD_KEY);
    let database = match backend {
        Backend::Postgres => Some(values.kept_or(DATABASE_KEY, SHOP_USER)),
        Backend::Redis | Backend::RabbitMq => None,
    };
    if backend == Backend::RabbitMq {
        values.generated(COOKIE_KEY);
    }
    let url = backend_url(
        backend,
        &shop_name,
        &namespace,
        &username,
        &password,
        database.as_deref(),
    );
    values.set(names::URL_KEY, url.into_bytes());

    let mut metadata = secret_meta(
        shop,
        names::backend(&shop_name, backend),
        backend_labels(shop, backend),
        keeps_volume(shop, backend),
    );
    metadata.annotations = Some(BTreeMap::from([(
        GENERATED_NOTE_ANNOTATION.to_owned(),
        GENERATED_NOTE.to_owned(),
    )]));
    Secret {
        metadata,
        type_: Some("Opaque".to_owned()),
        data: Some(values.into_data()),
        ..Secret::default()
    }
}

/// The URL of a managed backend through its headless Service, e.g.
/// `postgres://shop:PASS@demo-postgres.shop.svc:5432/shop`.
pub fn backend_url(
    backend: Backend,
    shop: &str,
    namespace: &str,
    username: &[u8],
    password: &[u8],
    database: Option<&[u8]>,
) -> String {
    let host = format!(
        "{}.{namespace}.svc:{}",
        names::backend(shop, backend),
        backend.port()
    );
    let (user, pass) = (encode_userinfo(username), encode_userinfo(password));
    match backend {
        Backend::Postgres => {
            let database = encode_userinfo(database.unwrap_or(SHOP_USER.as_bytes()));
            format!("postgres://{user}:{pass}@{host}/{database}")
        }
        Backend::Redis => format!("redis://:{pass}@{host}/0"),
        Backend::RabbitMq => format!("amqp://{user}:{pass}@{host}/%2f"),
    }
}
