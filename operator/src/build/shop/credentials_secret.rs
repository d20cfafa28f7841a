//! The Secret of credentials the operator generates once for a Shop: the JWT signing key.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use super::secret_values::SecretValues;
use super::{SHOP_APP, keeps_volume, managed_backends, secret_meta};
use crate::crd::Shop;
use crate::{labels, names};

/// Annotation on generated Secrets telling people what editing them does.
pub(super) const GENERATED_NOTE_ANNOTATION: &str = "shop.dev/generated";
/// Its value.
pub(super) const GENERATED_NOTE: &str = "Values are generated once by shop-operator and kept \
     verbatim afterwards; a deleted key is generated again. Do not edit without rotating what uses them.";

/// The generated credentials Secret, or `None` when `spec.auth.jwtSecretRef` supplies the key.
/// Values in `existing` (the Secret as read from the cluster) are kept; only missing keys are
/// generated with `new_secret`. Owned by the Shop unless a managed backend keeps its volume.
pub fn credentials_secret(
    shop: &Shop,
    existing: Option<&Secret>,
    new_secret: &dyn Fn() -> String,
) -> Option<Secret> {
    if shop.spec.auth.jwt_secret_ref.is_some() {
        return None;
    }
    let name = shop.name_any();
    let mut values = SecretValues::new(existing, new_secret);
    values.generated(names::JWT_SECRET_KEY);
    // Kept with any kept volume: sessions signed with it are in the kept Redis, and a kept
    // database outliving its Shop is meant to come back as the same shop.
    let kept = managed_backends(shop)
        .into_iter()
        .any(|(backend, _)| keeps_volume(shop, backend));
    let mut metadata = secret_meta(
        shop,
        names::credentials_secret(&name),
        labels::full(SHOP_APP, &name, "credentials", None),
        kept,
    );
    metadata.annotations = Some(BTreeMap::from([(
        GENERATED_NOTE_ANNOTATION.to_owned(),
        GENERATED_NOTE.to_owned(),
    )]));
    Some(Secret {
        metadata,
        type_: Some("Opaque".to_owned()),
        data: Some(values.into_data()),
        ..Secret::default()
    })
}
