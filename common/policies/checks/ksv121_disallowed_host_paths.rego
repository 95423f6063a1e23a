package builtin.trivyrs.KSV121

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV121",
	"avd_id": "AVD-KSV-0121",
	"title": "Kubernetes resource with disallowed volumes mounted",
	"short_code": "no-k8s-with-disallowed-volumes",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "HostPath present many security risks and as a security practice it is better to avoid critical host paths mounts.",
	"recommended_actions": "Do not Set 'spec.volumes[*].hostPath.path' to any of the disallowed volumes.",
	"url": "https://avd.aquasec.com/misconfig/ksv121",
}

disallowed := {"/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr", "/var/lib/docker"}

paths := {p |
	some v in k8s.volumes
	p := object.get(v, ["hostPath", "path"], "")
	p in disallowed
}

# The paths written as upstream's message writes a set: `{"/", "/etc"}`.
paths_text := sprintf("{%s}", [concat(", ", [json.marshal(p) | some p in sort(paths)])])

deny contains res if {
	count(paths) > 0
	res := {"msg": sprintf("%s %s in %s namespace shouldn't have volumes set to %s", [lower(k8s.kind), k8s.name, k8s.namespace, paths_text])}
}
