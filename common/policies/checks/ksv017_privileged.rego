package builtin.trivyrs.KSV017

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV017",
	"avd_id": "AVD-KSV-0017",
	"title": "Privileged container",
	"short_code": "no-privileged-containers",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "A privileged container has every capability and all the node's devices; it is root on the node in all but name.",
	"recommended_actions": "Set 'containers[].securityContext.privileged' to false, or remove it.",
	"url": "https://avd.aquasec.com/misconfig/ksv017",
}

deny contains res if {
	some c in k8s.containers
	k8s.security_context(c).privileged == true
	res := {"msg": sprintf("%s should set 'securityContext.privileged' to false", [k8s.container_ref(c)])}
}
