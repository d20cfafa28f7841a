//! Apply: the Restore's Jobs (created once: a Job's template is immutable, and each step runs
//! once), and the Shop's annotations that put it in maintenance or hold back its first start.

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::apply::apply;
use crate::context::Context;
use crate::crd::Shop;
use crate::error::{ApplyError, Result};

/// Creates `job` unless a Job of that name exists; the Job as it is.
pub async fn ensure_job(ctx: &Context, existing: &[Job], job: &Job) -> Result<Job> {
    if let Some(found) = existing
        .iter()
        .find(|found| found.name_any() == job.name_any())
    {
        return Ok(found.clone());
    }
    let (created, _) = apply(&ctx.client, job).await?;
    Ok(created)
}

/// Sets (`Some`) or removes (`None`) one annotation of the Shop, by a merge patch of that key
/// alone: the Shop's spec and its other annotations are its owner's, not the operator's.
pub async fn annotate_shop(
    ctx: &Context,
    shop: &Shop,
    key: &str,
    value: Option<&str>,
) -> Result<()> {
    if shop.annotations().get(key).map(String::as_str) == value {
        return Ok(());
    }
    let namespace = shop.namespace().unwrap_or_default();
    let api: Api<Shop> = Api::namespaced(ctx.client.clone(), &namespace);
    let patch = json!({"metadata": {"annotations": {key: value}}});
    api.patch(
        &shop.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|source| ApplyError::Request {
        verb: "annotate",
        kind: "Shop".to_owned(),
        name: shop.name_any(),
        source: Box::new(source),
    })?;
    Ok(())
}
