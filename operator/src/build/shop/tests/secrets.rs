//! Secrets: generated when missing, kept verbatim when present, never rotated.

use super::*;

fn data(secret: &Secret) -> &BTreeMap<String, ByteString> {
    secret.data.as_ref().expect("generated Secrets have data")
}

fn value(secret: &Secret, key: &str) -> String {
    let bytes = data(secret)
        .get(key)
        .unwrap_or_else(|| panic!("{key} is missing"));
    String::from_utf8(bytes.0.clone()).expect("UTF-8 value")
}

fn existing_secret(values: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta::default(),
        data: Some(
            values
                .iter()
                .map(|(key, value)| ((*key).to_owned(), ByteString(value.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

fn never() -> String {
    panic!("nothing should be generated")
}

#[test]
fn credentials_are_generated_when_there_is_no_secret_yet() {
    let secret = credentials_secret(&minimal_shop(), None, &counter_secrets())
        .expect("no jwtSecretRef, so the operator generates one");
    assert_eq!(
        secret.metadata.name.as_deref(),
        Some(names::credentials_secret("demo").as_str())
    );
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    assert_eq!(value(&secret, names::JWT_SECRET_KEY), "generated-secret-1");
}

#[test]
fn an_existing_jwt_secret_is_kept_verbatim() {
    let existing = existing_secret(&[(names::JWT_SECRET_KEY, "the-key-users-signed-in-with")]);
    let secret =
        credentials_secret(&minimal_shop(), Some(&existing), &never).expect("generated Secret");
    assert_eq!(
        value(&secret, names::JWT_SECRET_KEY),
        "the-key-users-signed-in-with"
    );
}

#[test]
fn an_empty_jwt_secret_is_generated_again() {
    let existing = existing_secret(&[(names::JWT_SECRET_KEY, "")]);
    let secret = credentials_secret(&minimal_shop(), Some(&existing), &counter_secrets())
        .expect("generated Secret");
    assert_eq!(value(&secret, names::JWT_SECRET_KEY), "generated-secret-1");
}

#[test]
fn no_credentials_secret_when_the_jwt_secret_is_supplied() {
    let shop = shop_with_spec(json!({
        "version": "1.0.0",
        "auth": { "jwtSecretRef": { "name": "mine", "key": "jwt" } }
    }));
    assert!(credentials_secret(&shop, None, &never).is_none());
    assert!(
        shop_objects(&shop, "1.0.0", &counter_secrets())
            .iter()
            .all(|object| {
                object["metadata"]["name"] != json!(names::credentials_secret("demo"))
            })
    );
}

#[test]
fn backend_secrets_have_every_key_and_urls_of_the_right_shape() {
    let shop = minimal_shop();
    let postgres = backend_secret(&shop, Backend::Postgres, None, &counter_secrets());
    assert_eq!(value(&postgres, USERNAME_KEY), "shop");
    assert_eq!(value(&postgres, PASSWORD_KEY), "generated-secret-1");
    assert_eq!(value(&postgres, DATABASE_KEY), "shop");
    assert_eq!(
        value(&postgres, names::URL_KEY),
        "postgres://shop:generated-secret-1@demo-postgres.shop.svc:5432/shop"
    );

    let redis = backend_secret(&shop, Backend::Redis, None, &counter_secrets());
    assert_eq!(value(&redis, PASSWORD_KEY), "generated-secret-1");
    assert_eq!(
        value(&redis, names::URL_KEY),
        "redis://:generated-secret-1@demo-redis.shop.svc:6379/0"
    );
    assert!(!data(&redis).contains_key(COOKIE_KEY));

    let rabbitmq = backend_secret(&shop, Backend::RabbitMq, None, &counter_secrets());
    assert_eq!(value(&rabbitmq, USERNAME_KEY), "shop");
    assert_eq!(value(&rabbitmq, PASSWORD_KEY), "generated-secret-1");
    assert_eq!(value(&rabbitmq, COOKIE_KEY), "generated-secret-2");
    assert_eq!(
        value(&rabbitmq, names::URL_KEY),
        "amqp://shop:generated-secret-1@demo-rabbitmq.shop.svc:5672/%2f"
    );
    assert!(!data(&rabbitmq).contains_key(DATABASE_KEY));
}

#[test]
fn an_existing_backend_password_is_kept_and_the_url_is_rebuilt_from_it() {
    let existing = existing_secret(&[
        (PASSWORD_KEY, "kept-password"),
        // A stale URL (say, from before a namespace was renamed) is not trusted.
        (names::URL_KEY, "postgres://shop:old@elsewhere:5432/shop"),
    ]);
    let secret = backend_secret(&minimal_shop(), Backend::Postgres, Some(&existing), &never);
    assert_eq!(value(&secret, PASSWORD_KEY), "kept-password");
    assert_eq!(
        value(&secret, names::URL_KEY),
        "postgres://shop:kept-password@demo-postgres.shop.svc:5432/shop"
    );
}

#[test]
fn only_missing_backend_keys_are_generated() {
    // A Secret from before the cookie existed, or whose cookie someone deleted.
    let existing = existing_secret(&[(USERNAME_KEY, "shop"), (PASSWORD_KEY, "kept-password")]);
    let secret = backend_secret(
        &minimal_shop(),
        Backend::RabbitMq,
        Some(&existing),
        &counter_secrets(),
    );
    assert_eq!(value(&secret, PASSWORD_KEY), "kept-password");
    assert_eq!(value(&secret, COOKIE_KEY), "generated-secret-1");
    assert_eq!(
        value(&secret, names::URL_KEY),
        "amqp://shop:kept-password@demo-rabbitmq.shop.svc:5672/%2f"
    );
}

#[test]
fn a_kept_password_with_reserved_characters_is_escaped_in_the_url() {
    let existing = existing_secret(&[(PASSWORD_KEY, "p@ss/word")]);
    let secret = backend_secret(&minimal_shop(), Backend::Redis, Some(&existing), &never);
    assert_eq!(value(&secret, PASSWORD_KEY), "p@ss/word");
    assert_eq!(
        value(&secret, names::URL_KEY),
        "redis://:p%40ss%2Fword@demo-redis.shop.svc:6379/0"
    );
}

#[test]
fn building_twice_from_the_first_result_changes_nothing() {
    let shop = minimal_shop();
    for backend in Backend::ALL {
        let first = backend_secret(&shop, backend, None, &counter_secrets());
        let second = backend_secret(&shop, backend, Some(&first), &never);
        assert_eq!(first, second, "{backend:?}");
    }
    let first = credentials_secret(&shop, None, &counter_secrets());
    let second = credentials_secret(&shop, first.as_ref(), &never);
    assert_eq!(first, second);
}
