package builtin.trivyrs.KSV110

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV110",
	"avd_id": "AVD-KSV-0110",
	"title": "Workloads in the default namespace",
	"short_code": "default-namespace-should-not-be-used",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "Checks whether a workload is running in the default namespace.",
	"recommended_actions": "Set 'metadata.namespace' to a non-default namespace.",
	"url": "https://avd.aquasec.com/misconfig/ksv110",
}

# The kinds upstream's check names (every workload kind and Deployment).
workload_kinds := {"pod", "replicaset", "replicationcontroller", "deployment", "statefulset", "daemonset", "cronjob", "job"}

# A workload that names no namespace counts as being in `default`, as upstream's.
deny contains res if {
	k8s.namespace == "default"
	lower(k8s.kind) in workload_kinds
	res := {"msg": sprintf("%s %s in %s namespace should set metadata.namespace to a non-default namespace", [lower(k8s.kind), k8s.name, k8s.namespace])}
}
