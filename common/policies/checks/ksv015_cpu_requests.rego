package builtin.trivyrs.KSV015

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV015",
	"avd_id": "AVD-KSV-0015",
	"title": "CPU requests not specified",
	"short_code": "no-unspecified-cpu-requests",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "When containers have resource requests specified, the scheduler can make better decisions about which nodes to place pods on, and how to deal with resource contention.",
	"recommended_actions": "Set 'containers[].resources.requests.cpu'.",
	"url": "https://avd.aquasec.com/misconfig/ksv015",
}

deny contains res if {
	some c in k8s.containers
	not k8s.has_resource(c, "requests", "cpu")
	res := {"msg": sprintf("%s should set 'resources.requests.cpu'", [k8s.container_ref(c)])}
}
