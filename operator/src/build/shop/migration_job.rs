//! The Job that migrates the database to a version before the API runs it.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::{API_APP, MIGRATION_COMPONENT, child_meta, shop_container, shop_pod};
use crate::build::API_SERVICE_NAME;
use crate::crd::Shop;
use crate::{labels, names};

/// How long a migration may run before the Job fails.
pub const MIGRATION_DEADLINE_SECONDS: i64 = 600;

/// `shop-api migrate` at `version`, retried three times. The finished Job is kept (no TTL): the
/// reconciler reads its outcome, and its name (derived from the version) makes it run once.
pub fn migration_job(shop: &Shop, version: &str) -> Job {
    let shop_name = shop.name_any();
    let labels = labels::full(API_APP, &shop_name, MIGRATION_COMPONENT, Some(version));
    let service = format!("{API_SERVICE_NAME}-migrate");
    let container = shop_container(shop, "migrate", &service, version, &["migrate"]);
    let mut pod = shop_pod(shop, container);
    pod.restart_policy = Some("Never".to_owned());
    Job {
        metadata: child_meta(
            shop,
            names::migration_job(&shop_name, version),
            labels.clone(),
        ),
        spec: Some(JobSpec {
            backoff_limit: Some(3),
            active_deadline_seconds: Some(MIGRATION_DEADLINE_SECONDS),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}
