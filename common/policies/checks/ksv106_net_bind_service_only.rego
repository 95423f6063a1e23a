package builtin.trivyrs.KSV106

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV106",
	"avd_id": "AVD-KSV-0106",
	"title": "Container capabilities must only include NET_BIND_SERVICE",
	"short_code": "drop-caps-add-bind-svc",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "Containers must drop ALL capabilities, and are only permitted to add back the NET_BIND_SERVICE capability.",
	"recommended_actions": "Set 'spec.containers[*].securityContext.capabilities.drop' to 'ALL' and only add 'NET_BIND_SERVICE' to 'spec.containers[*].securityContext.capabilities.add'.",
	"url": "https://avd.aquasec.com/misconfig/ksv106",
}

deny contains res if {
	some c in k8s.containers
	not "ALL" in k8s.capabilities(c, "drop")
	res := {"msg": sprintf("%s should drop all capabilities", [k8s.container_ref(c)])}
}

deny contains res if {
	some c in k8s.containers
	some cap in k8s.capabilities(c, "add")
	not cap in {"NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE"}
	res := {"msg": sprintf("%s should only add 'NET_BIND_SERVICE' to 'securityContext.capabilities.add', not '%s'", [k8s.container_ref(c), cap])}
}
