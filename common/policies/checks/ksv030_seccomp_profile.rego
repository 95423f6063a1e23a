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

# Upstream's verdicts and messages: the legacy pod annotation, when set, must say
# 'runtime/default'; without it and without a pod-level profile, every regular and init
# container needs its own; a profile that is set (pod or container) must be RuntimeDefault
# or Localhost.
valid_types := {"RuntimeDefault", "Localhost"}

pod_annotation := v if {
	v := k8s.pod_annotations["seccomp.security.alpha.kubernetes.io/pod"]
}

profile_type(holder) := t if {
	t := object.get(holder, ["securityContext", "seccompProfile", "type"], "")
	is_string(t)
} else := ""

deny contains res if {
	pod_annotation != "runtime/default"
	res := {"msg": "seccomp.security.alpha.kubernetes.io/pod should be set to 'runtime/default'"}
}

deny contains res if {
	not pod_annotation
	profile_type(k8s.pod_spec) == ""
	some c in k8s.pod_containers
	profile_type(c) == ""
	res := {"msg": "Either Pod or Container should set 'securityContext.seccompProfile.type' to 'RuntimeDefault'"}
}

deny contains res if {
	some c in k8s.pod_containers
	not profile_type(c) in ({""} | valid_types)
	res := {"msg": "Container should set 'securityContext.seccompProfile.type' to 'RuntimeDefault'"}
}

deny contains res if {
	not profile_type(k8s.pod_spec) in ({""} | valid_types)
	res := {"msg": "Pod should set 'securityContext.seccompProfile.type' to 'RuntimeDefault'"}
}
