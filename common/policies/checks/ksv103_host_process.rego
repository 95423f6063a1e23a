package builtin.trivyrs.KSV103

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV103",
	"avd_id": "AVD-KSV-0103",
	"title": "Access to host process",
	"short_code": "no-hostprocess-containers",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "Windows pods offer the ability to run HostProcess containers which enable privileged access to the Windows node.",
	"recommended_actions": "Do not enable 'hostProcess' on any securityContext",
	"url": "https://avd.aquasec.com/misconfig/ksv103",
}

# As upstream: the object's own `spec.securityContext` (a Pod's), or any regular or init
# container's, with `windowsOptions.hostProcess: true`.
host_process if object.get(input, ["spec", "securityContext", "windowsOptions", "hostProcess"], false) == true

host_process if {
	some c in k8s.pod_containers
	object.get(k8s.security_context(c), ["windowsOptions", "hostProcess"], false) == true
}

deny contains res if {
	host_process
	res := {"msg": "You should not enable hostProcess."}
}
