package builtin.trivyrs.KSV118

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV118",
	"avd_id": "AVD-KSV-0118",
	"title": "Default security context configured",
	"short_code": "no-default-security-context",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "Security context controls the allocation of security parameters for the pod/container/volume, ensuring the appropriate level of protection. Relying on default security context may expose vulnerabilities to potential attacks that rely on privileged access.",
	"recommended_actions": "To enhance security, it is strongly recommended not to rely on the default security context. Instead, it is advisable to explicitly define the required security parameters (such as runAsNonRoot, capabilities, readOnlyRootFilesystem, etc.) within the security context.",
	"url": "https://avd.aquasec.com/misconfig/ksv118",
}

# The pod-level fields a container inherits, as upstream's library resolves a container's
# securityContext before its checks read it.
inherited_fields := {"runAsGroup", "runAsNonRoot", "runAsUser", "seLinuxOptions", "seccompProfile", "windowsOptions"}

# The Pod itself, or the pod template of a controller (undefined when it has none).
pod := input if {
	k8s.kind == "Pod"
} else := template if {
	path := k8s.pod_spec_paths[k8s.kind]
	template := object.get(input, array.slice(path, 0, count(path) - 1), null)
	is_object(template)
}

# A missing pod-level securityContext counts as the default one, as an empty one does.
deny contains res if {
	object.get(pod, ["spec", "securityContext"], {}) == {}
	res := {"msg": sprintf("%s %s in %s namespace is using the default security context, which allows root privileges", [lower(k8s.kind), k8s.name, k8s.namespace])}
}

# A regular or init container whose own securityContext is missing or empty and that
# inherits none of the fields above from the pod. The message names the workload, not the
# container, so several such containers give one message.
deny contains res if {
	pod
	some c in k8s.pod_containers
	object.get(c, "securityContext", {}) == {}
	count([f | some f, _ in k8s.pod_security_context; f in inherited_fields]) == 0
	res := {"msg": sprintf("container %s in %s namespace is using the default security context", [k8s.name, k8s.namespace])}
}
