package builtin.trivyrs.KSV105

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV105",
	"avd_id": "AVD-KSV-0105",
	"title": "Containers must not set runAsUser to 0",
	"short_code": "no-run-as-root-uid",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "A container told to run as UID 0 runs as root whatever its image says.",
	"recommended_actions": "Set 'containers[].securityContext.runAsUser' (or the pod's) to a non-zero UID.",
	"url": "https://avd.aquasec.com/misconfig/ksv105",
}

deny contains res if {
	some c in k8s.containers
	k8s.effective(c, "runAsUser") == 0
	res := {"msg": sprintf("%s should not set 'securityContext.runAsUser' to 0", [k8s.container_ref(c)])}
}
