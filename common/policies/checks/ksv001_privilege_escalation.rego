package builtin.trivyrs.KSV001

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV001",
	"avd_id": "AVD-KSV-0001",
	"title": "Can elevate its own privileges",
	"short_code": "no-self-privesc",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "A program inside the container can elevate its own privileges and run as root, which might give the program control over the container and node.",
	"recommended_actions": "Set 'set containers[].securityContext.allowPrivilegeEscalation' to 'false'.",
	"url": "https://avd.aquasec.com/misconfig/ksv001",
}

# Only an explicit false turns escalation off: the runtime default allows it.
deny contains res if {
	some c in k8s.containers
	object.get(k8s.security_context(c), "allowPrivilegeEscalation", null) != false
	res := {"msg": sprintf("%s should set 'securityContext.allowPrivilegeEscalation' to false", [k8s.container_ref(c)])}
}
