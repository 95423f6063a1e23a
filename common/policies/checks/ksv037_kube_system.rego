package builtin.trivyrs.KSV037

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV037",
	"avd_id": "AVD-KSV-0037",
	"title": "User resources should not be placed in kube-system namespace",
	"short_code": "no-user-resources-in-system-namespace",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "ensure that user resources are not placed in kube-system namespace",
	"recommended_actions": "Deploy the user resources into a designated namespace which is not kube-system.",
	"url": "https://avd.aquasec.com/misconfig/ksv037",
}

# Upstream evaluates it for every kind: here the workload kinds and the other audited kinds.
__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [
	{"kind": "Pod"}, {"kind": "ReplicaSet"}, {"kind": "ReplicationController"},
	{"kind": "Deployment"}, {"kind": "StatefulSet"}, {"kind": "DaemonSet"},
	{"kind": "CronJob"}, {"kind": "Job"}, {"kind": "Service"}, {"kind": "ConfigMap"},
	{"kind": "RoleBinding"}, {"kind": "NetworkPolicy"}, {"kind": "Ingress"},
	{"kind": "ResourceQuota"}, {"kind": "LimitRange"}, {"kind": "PersistentVolumeClaim"},
]}]}

# A control-plane component as upstream recognises one: its own labels and spec (a Pod's).
core_component if {
	labels := object.get(input, ["metadata", "labels"], {})
	labels.tier == "control-plane"
	labels.component in {"kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler"}
	object.get(input, ["spec", "priorityClassName"], "") == "system-node-critical"
}

# As upstream, an object without a `spec` (a ConfigMap, a RoleBinding) never fails.
deny contains res if {
	k8s.namespace == "kube-system"
	input.spec
	not core_component
	res := {"msg": sprintf("%s '%s' should not be set with 'kube-system' namespace", [k8s.kind, k8s.name])}
}
