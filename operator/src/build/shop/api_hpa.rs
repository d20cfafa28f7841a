//! The API's HorizontalPodAutoscaler.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use kube::ResourceExt;

use super::{api_labels, child_meta};
use crate::crd::Shop;
use crate::names;

/// Scales the API Deployment on CPU when `spec.api.autoscaling` is set; `None` otherwise.
pub fn api_hpa(shop: &Shop) -> Option<HorizontalPodAutoscaler> {
    let autoscaling = shop.spec.api.autoscaling.as_ref()?;
    let name = names::api(&shop.name_any());
    Some(HorizontalPodAutoscaler {
        metadata: child_meta(shop, name.clone(), api_labels(shop)),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name,
            },
            min_replicas: Some(autoscaling.min_replicas),
            max_replicas: autoscaling.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(autoscaling.target_cpu_utilization_percent),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: None,
        }),
        ..HorizontalPodAutoscaler::default()
    })
}
