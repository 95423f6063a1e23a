package builtin.trivyrs.KSV021

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV021",
	"avd_id": "AVD-KSV-0021",
	"title": "Runs with GID <= 10000",
	"short_code": "use-high-gid",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "Force the container to run with group ID > 10000 to avoid conflicts with the host’s user table.",
	"recommended_actions": "Set 'containers[].securityContext.runAsGroup' to an integer > 10000.",
	"url": "https://avd.aquasec.com/misconfig/ksv021",
}

# Unset counts as low: the image then decides, and images mostly run as 0.
deny contains res if {
	some c in k8s.containers
	not high_id(k8s.effective(c, "runAsGroup"))
	res := {"msg": sprintf("%s should set 'securityContext.runAsGroup' > 10000", [k8s.container_ref(c)])}
}

high_id(v) if {
	is_number(v)
	v > 10000
}
