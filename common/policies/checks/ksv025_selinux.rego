package builtin.trivyrs.KSV025

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV025",
	"avd_id": "AVD-KSV-0025",
	"title": "SELinux custom options set",
	"short_code": "no-custom-selinux-options",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "According to pod security standard 'SElinux', setting custom SELinux options should be disallowed.",
	"recommended_actions": "Do not set 'spec.securityContext.seLinuxOptions', spec.containers[*].securityContext.seLinuxOptions and spec.initContainers[*].securityContext.seLinuxOptions.",
	"url": "https://avd.aquasec.com/misconfig/ksv025",
}

allowed_types := {"container_t", "container_init_t", "container_kvm_t"}

# The seLinuxOptions of the pod-level and every regular and init container's
# securityContext.
options contains o if {
	o := k8s.pod_security_context.seLinuxOptions
	is_object(o)
}

options contains o if {
	some c in k8s.pod_containers
	o := k8s.security_context(c).seLinuxOptions
	is_object(o)
}

deny contains res if {
	some o in options
	t := o.type
	t != null
	not t in allowed_types
	res := {"msg": sprintf("%s '%s' uses invalid seLinux type '%s'", [k8s.kind, k8s.name, t])}
}

restricted := {sprintf("'%s'", [key]) |
	some o in options
	some key in ["role", "user"]
	key in object.keys(o)
}

deny contains res if {
	count(restricted) > 0
	res := {"msg": sprintf("%s '%s' uses restricted properties in seLinuxOptions: (%s)", [k8s.kind, k8s.name, concat(", ", sort(restricted))])}
}
