package builtin.trivyrs.KSV022

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV022",
	"avd_id": "AVD-KSV-0022",
	"title": "Non-default capabilities added",
	"short_code": "no-non-default-capabilities",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "Capabilities beyond the runtime's default set (NET_ADMIN, SYS_PTRACE, SYS_MODULE, ...) widen what a compromised container can do to the node and its neighbours.",
	"recommended_actions": "Add to containers[].securityContext.capabilities.add only capabilities of the default set, and only those the program needs.",
	"url": "https://avd.aquasec.com/misconfig/ksv022",
}

# The capabilities container runtimes grant by default (Pod Security Standards, baseline).
default_capabilities := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

deny contains res if {
	some c in k8s.containers
	some cap in k8s.capabilities(c, "add")
	not trim_prefix(cap, "CAP_") in default_capabilities
	res := {"msg": sprintf("%s should not add the capability '%s'", [k8s.container_ref(c), cap])}
}
