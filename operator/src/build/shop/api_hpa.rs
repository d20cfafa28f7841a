//! The API's HorizontalPodAutoscaler.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::ResourceExt;

use super::{api_labels, child_meta};
use crate::build::cpu_autoscaler;
use crate::crd::Shop;
use crate::names;

/// Scales the API Deployment on CPU when `spec.api.autoscaling` is set; `None` otherwise.
pub fn api_hpa(shop: &Shop) -> Option<HorizontalPodAutoscaler> {
    let autoscaling = shop.spec.api.autoscaling.as_ref()?;
    let name = names::api(&shop.name_any());
    let metadata = child_meta(shop, name.clone(), api_labels(shop));
    Some(cpu_autoscaler(metadata, name, autoscaling))
}
