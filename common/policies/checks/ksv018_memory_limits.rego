package builtin.trivyrs.KSV018

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV018",
	"avd_id": "AVD-KSV-0018",
	"title": "Memory not limited",
	"short_code": "limit-memory",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "Enforcing memory limits prevents DoS via resource exhaustion.",
	"recommended_actions": "Set a limit value under 'containers[].resources.limits.memory'.",
	"url": "https://avd.aquasec.com/misconfig/ksv018",
}

deny contains res if {
	some c in k8s.containers
	not k8s.has_resource(c, "limits", "memory")
	res := {"msg": sprintf("%s should set 'resources.limits.memory'", [k8s.container_ref(c)])}
}
