package builtin.trivyrs.KSV104

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV104",
	"avd_id": "AVD-KSV-0104",
	"title": "Seccomp policies disabled",
	"short_code": "no-seccomp-unconfined",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "A program inside the container can bypass Seccomp protection policies.",
	"recommended_actions": "Specify seccomp either by annotation or by seccomp profile type having allowed values as per pod security standards",
	"url": "https://avd.aquasec.com/misconfig/ksv104",
}

# Upstream's verdicts and message: each regular and init container's profile type is its
# own securityContext's, else (for controllers only: a Pod's own pod-level profile does not
# count) the template's pod-level one, else its legacy container annotation; unset or
# Unconfined fails.
legacy_type(c) := t if {
	t := k8s.pod_annotations[concat("/", ["container.seccomp.security.alpha.kubernetes.io", object.get(c, "name", "")])]
} else := ""

fallback_type(c) := t if {
	k8s.kind != "Pod"
	t := object.get(k8s.pod_spec, ["securityContext", "seccompProfile", "type"], legacy_type(c))
} else := legacy_type(c)

container_type(c) := object.get(c, ["securityContext", "seccompProfile", "type"], fallback_type(c))

deny contains res if {
	some c in k8s.pod_containers
	t := container_type(c)
	is_string(t)
	lower(t) in {"", "unconfined"}
	res := {"msg": sprintf("container \"%s\" of %s \"%s\" in \"%s\" namespace should specify a seccomp profile", [object.get(c, "name", ""), lower(k8s.kind), k8s.name, k8s.namespace])}
}
