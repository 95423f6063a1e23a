package builtin.trivyrs.KSV030

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV030",
	"avd_id": "AVD-KSV-0030",
	"title": "Runtime/Default Seccomp profile not set",
	"short_code": "use-default-seccomp",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "According to pod security standard 'Seccomp', the RuntimeDefault seccomp profile must be required, or allow specific additional profiles.",
	"recommended_actions": "Set 'spec.securityContext.seccompProfile.type', 'spec.containers[*].securityContext.seccompProfile' and 'spec.initContainers[*].securityContext.seccompProfile' to 'RuntimeDefault' or undefined.",
	"url": "https://avd.aquasec.com/misconfig/ksv030",
}

deny contains res if {
	some c in k8s.containers
	not k8s.seccomp_type(c) in {"RuntimeDefault", "Localhost"}
	res := {"msg": sprintf("%s should set 'securityContext.seccompProfile.type' to 'RuntimeDefault' (on the container or the pod)", [k8s.container_ref(c)])}
}
