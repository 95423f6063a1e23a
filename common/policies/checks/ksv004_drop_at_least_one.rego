package builtin.trivyrs.KSV004

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV004",
	"avd_id": "AVD-KSV-0004",
	"title": "Default capabilities: some containers do not drop any",
	"short_code": "drop-unused-capabilities",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "Security best practices require containers to run with minimal required capabilities.",
	"recommended_actions": "Specify at least one unneeded capability in 'containers[].securityContext.capabilities.drop'",
	"url": "https://avd.aquasec.com/misconfig/ksv004",
}

# As upstream decides it: a regular or init container passes when its capabilities name a
# `drop` list at all (even an empty one), and the verdict goes by name, so a container
# shares the pass of another container of the same name. A nameless container never fails.
declares_drop(c) if {
	caps := k8s.security_context(c).capabilities
	is_object(caps)
	_ = caps.drop
}

dropping := {c.name | some c in k8s.pod_containers; declares_drop(c)}

deny contains res if {
	some c in k8s.pod_containers
	name := c.name
	not name in dropping
	res := {"msg": sprintf("Container '%s' of '%s' '%s' in '%s' namespace should set securityContext.capabilities.drop", [name, lower(k8s.kind), k8s.name, k8s.namespace])}
}
