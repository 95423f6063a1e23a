package builtin.trivyrs.KSV014

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV014",
	"avd_id": "AVD-KSV-0014",
	"title": "Root file system is not read-only",
	"short_code": "use-readonly-filesystem",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "An immutable root file system prevents applications from writing to their local disk. This can limit intrusions, as attackers will not be able to tamper with the file system or write foreign executables to disk.",
	"recommended_actions": "Change 'containers[].securityContext.readOnlyRootFilesystem' to 'true'.",
	"url": "https://avd.aquasec.com/misconfig/ksv014",
}

deny contains res if {
	some c in k8s.containers
	object.get(k8s.security_context(c), "readOnlyRootFilesystem", null) != true
	res := {"msg": sprintf("%s should set 'securityContext.readOnlyRootFilesystem' to true", [k8s.container_ref(c)])}
}
