package builtin.trivyrs.KSV116

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV116",
	"avd_id": "AVD-KSV-0116",
	"title": "Runs with a root primary or supplementary GID",
	"short_code": "primary-supplementary-gid",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "According to pod security standard 'Non-root groups', containers should be forbidden from running with a root primary or supplementary GID.",
	"recommended_actions": "Set 'containers[].securityContext.runAsGroup' to a non-zero integer or leave undefined.",
	"url": "https://avd.aquasec.com/misconfig/ksv116",
}

# Upstream's verdict reads the pod-level securityContext only (the template's for
# controllers): a container's own `runAsGroup: 0` passes.
root_group if k8s.pod_security_context.runAsGroup == 0

root_group if k8s.pod_security_context.fsGroup == 0

root_group if {
	groups := k8s.pod_security_context.supplementalGroups
	is_array(groups)
	some gid in groups
	gid == 0
}

deny contains res if {
	root_group
	res := {"msg": sprintf("%s %s in %s namespace should set spec.securityContext.runAsGroup, spec.securityContext.supplementalGroups[*] and spec.securityContext.fsGroup to integer greater than 0", [lower(k8s.kind), k8s.name, k8s.namespace])}
}
