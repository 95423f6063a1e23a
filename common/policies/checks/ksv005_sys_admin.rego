package builtin.trivyrs.KSV005

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV005",
	"avd_id": "AVD-KSV-0005",
	"title": "SYS_ADMIN capability added",
	"short_code": "no-sysadmin-capability",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "SYS_ADMIN grants a process most of the powers of root on the node: mounting file systems, changing namespaces, loading BPF programs. A container holding it can usually escape.",
	"recommended_actions": "Remove 'SYS_ADMIN' from containers[].securityContext.capabilities.add.",
	"url": "https://avd.aquasec.com/misconfig/ksv005",
}

deny contains res if {
	some c in k8s.containers
	some cap in k8s.capabilities(c, "add")
	cap in {"SYS_ADMIN", "CAP_SYS_ADMIN"}
	res := {"msg": sprintf("%s should not include 'SYS_ADMIN' in 'securityContext.capabilities.add'", [k8s.container_ref(c)])}
}
