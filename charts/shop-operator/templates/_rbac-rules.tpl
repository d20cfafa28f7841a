{{/*
Every Kubernetes API permission the operator has, in this one file. Nothing else in the chart
lists verbs, so a test can compare these rules with the calls the operator's code makes.

- "shop-operator.rules.namespaced": objects in the namespaces the operator manages. A ClusterRole
  when watchNamespaces is empty (all namespaces), else a Role in each watched namespace.
- "shop-operator.rules.cluster": cluster-scoped reads, always in a ClusterRole.
- "shop-operator.rules.leaderElection": the Lease in the release namespace, always a Role there.
*/}}

{{- define "shop-operator.rules.namespaced" -}}
# The operator's own custom resources: watched; a Shop is also read by its Workers and Backups.
# The operator never writes their specs (no finalizers: owner references do the cleanup); a
# Restore patches only its Shop's annotations (shop.dev/maintenance, shop.dev/restore-from).
- apiGroups: ["shop.dev"]
  resources: ["shops"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["shop.dev"]
  resources: ["workers", "restores"]
  verbs: ["list", "watch"]
# A Restore reads the Backup it restores from.
- apiGroups: ["shop.dev"]
  resources: ["backups"]
  verbs: ["get", "list", "watch"]
# Their status subresources: conditions, runningVersion, endpoints, backup history, restore phases.
- apiGroups: ["shop.dev"]
  resources: ["shops/status", "workers/status", "backups/status", "restores/status"]
  verbs: ["patch"]
# Generated credentials and backend URLs (Secrets), shop settings (ConfigMaps), API and backend
# Services, volumes of backups that ask for a size (PersistentVolumeClaims).
- apiGroups: [""]
  resources: ["secrets", "configmaps", "services", "persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "patch", "create"]
# Backup pods: read to collect their termination messages (size and location of a backup).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
# Events on the custom resources.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
# The API and worker Deployments, the managed backends' StatefulSets.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "watch", "patch", "create"]
# Migration and one-off backup Jobs, scheduled backup CronJobs; old migration Jobs are deleted.
- apiGroups: ["batch"]
  resources: ["jobs", "cronjobs"]
  verbs: ["get", "list", "watch", "patch", "create", "delete"]
# The API's PodDisruptionBudget.
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "patch", "create"]
# Optional objects, deleted again when the spec stops asking for them.
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch", "patch", "create", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses", "networkpolicies"]
  verbs: ["get", "list", "watch", "patch", "create", "delete"]
# Not watched: the CRDs may be absent, and a watch on a missing kind fails. ServiceMonitors of
# Shops and Workers, the PrometheusRule of a Shop's alerts.
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors", "prometheusrules"]
  verbs: ["get", "patch", "create", "delete"]
# Not watched either, for the same reason: the backends a Shop hands to CloudNativePG (a Cluster)
# and to the RabbitMQ Cluster Operator (a RabbitmqCluster). Read and applied (server-side apply
# creates them), never deleted (the Shop owns them; garbage collection removes them with it).
- apiGroups: ["postgresql.cnpg.io"]
  resources: ["clusters"]
  verbs: ["get", "patch", "create"]
- apiGroups: ["rabbitmq.com"]
  resources: ["rabbitmqclusters"]
  verbs: ["get", "patch", "create"]
{{- end }}

{{- define "shop-operator.rules.cluster" -}}
# Whether its own CRDs, the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs, and
# CloudNativePG's and the RabbitMQ Cluster Operator's CRDs are installed.
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get"]
{{- end }}

{{- define "shop-operator.rules.leaderElection" -}}
# Leader election: one coordination.k8s.io Lease, so several replicas never reconcile at once.
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "patch"]
{{- end }}
