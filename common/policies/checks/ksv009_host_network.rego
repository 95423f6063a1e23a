package builtin.trivyrs.KSV009

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV009",
	"avd_id": "AVD-KSV-0009",
	"title": "Access to host network",
	"short_code": "no-host-network",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "A workload on the host network sees all the node's traffic, can bind to its interfaces and reaches services listening only on localhost.",
	"recommended_actions": "Do not set 'spec.template.spec.hostNetwork' to true.",
	"url": "https://avd.aquasec.com/misconfig/ksv009",
}

deny contains res if {
	k8s.pod_spec.hostNetwork == true
	res := {"msg": sprintf("%s should not set '%s.hostNetwork' to true", [k8s.workload_ref, k8s.pod_spec_path])}
}
