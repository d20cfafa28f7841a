//! The API's PodDisruptionBudget.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::{api_labels, api_selector, child_meta, match_labels};
use crate::crd::Shop;
use crate::names;

/// Voluntary disruptions (drains) take at most one API pod at a time.
pub fn api_pdb(shop: &Shop) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: child_meta(shop, names::api(&shop.name_any()), api_labels(shop)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(match_labels(api_selector(shop))),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}
