package builtin.trivyrs.KSV016

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV016",
	"avd_id": "AVD-KSV-0016",
	"title": "Memory requests not specified",
	"short_code": "no-unspecified-memory-requests",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "When containers have memory requests specified, the scheduler can make better decisions about which nodes to place pods on, and how to deal with resource contention.",
	"recommended_actions": "Set 'containers[].resources.requests.memory'.",
	"url": "https://avd.aquasec.com/misconfig/ksv016",
}

deny contains res if {
	some c in k8s.containers
	not k8s.has_resource(c, "requests", "memory")
	res := {"msg": sprintf("%s should set 'resources.requests.memory'", [k8s.container_ref(c)])}
}
