package builtin.trivyrs.KSV020

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV020",
	"avd_id": "AVD-KSV-0020",
	"title": "Runs with UID <= 10000",
	"short_code": "use-high-uid",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "Force the container to run with user ID > 10000 to avoid conflicts with the host’s user table.",
	"recommended_actions": "Set 'containers[].securityContext.runAsUser' to an integer > 10000.",
	"url": "https://avd.aquasec.com/misconfig/ksv020",
}

# Unset counts as low: the image then decides, and images mostly run as 0.
deny contains res if {
	some c in k8s.containers
	not high_id(k8s.effective(c, "runAsUser"))
	res := {"msg": sprintf("%s should set 'securityContext.runAsUser' > 10000", [k8s.container_ref(c)])}
}

high_id(v) if {
	is_number(v)
	v > 10000
}
