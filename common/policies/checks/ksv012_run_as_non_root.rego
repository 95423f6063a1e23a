package builtin.trivyrs.KSV012

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV012",
	"avd_id": "AVD-KSV-0012",
	"title": "Runs as root user",
	"short_code": "no-root",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "Force the running image to run as a non-root user to ensure least privileges.",
	"recommended_actions": "Set 'containers[].securityContext.runAsNonRoot' to true.",
	"url": "https://avd.aquasec.com/misconfig/ksv012",
}

# The container's own setting wins over the pod's.
deny contains res if {
	some c in k8s.containers
	k8s.effective(c, "runAsNonRoot") != true
	res := {"msg": sprintf("%s should set 'securityContext.runAsNonRoot' to true", [k8s.container_ref(c)])}
}
