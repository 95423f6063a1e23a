package builtin.trivyrs.KSV011

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV011",
	"avd_id": "AVD-KSV-0011",
	"title": "CPU not limited",
	"short_code": "limit-cpu",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "Enforcing CPU limits prevents DoS via resource exhaustion.",
	"recommended_actions": "Set a limit value under 'containers[].resources.limits.cpu'.",
	"url": "https://avd.aquasec.com/misconfig/ksv011",
}

deny contains res if {
	some c in k8s.containers
	not k8s.has_resource(c, "limits", "cpu")
	res := {"msg": sprintf("%s should set 'resources.limits.cpu'", [k8s.container_ref(c)])}
}
