package builtin.trivyrs.KSV003

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV003",
	"avd_id": "AVD-KSV-0003",
	"title": "Default capabilities: some containers do not drop all",
	"short_code": "drop-default-capabilities",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "The container should drop all default capabilities and add only those that are needed for its execution.",
	"recommended_actions": "Add 'ALL' to containers[].securityContext.capabilities.drop.",
	"url": "https://avd.aquasec.com/misconfig/ksv003",
}

deny contains res if {
	some c in k8s.containers
	not "ALL" in k8s.capabilities(c, "drop")
	res := {"msg": sprintf("%s should add 'ALL' to 'securityContext.capabilities.drop'", [k8s.container_ref(c)])}
}
