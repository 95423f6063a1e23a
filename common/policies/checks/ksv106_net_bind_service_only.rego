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

# Upstream's verdicts and messages: every regular and init container must drop ALL; one
# that does may add back only NET_BIND_SERVICE (spelled exactly so).
drops_all(c) if {
	some cap in object.get(k8s.security_context(c), ["capabilities", "drop"], [])
	is_string(cap)
	upper(cap) == "ALL"
}

deny contains res if {
	some c in k8s.pod_containers
	not drops_all(c)
	res := {"msg": "container should drop all"}
}

deny contains res if {
	some c in k8s.pod_containers
	drops_all(c)
	added := object.get(k8s.security_context(c), ["capabilities", "add"], [])
	is_array(added)
	some cap in added
	cap != "NET_BIND_SERVICE"
	res := {"msg": "container should not add stuff"}
}
