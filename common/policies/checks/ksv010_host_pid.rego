package builtin.trivyrs.KSV010

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV010",
	"avd_id": "AVD-KSV-0010",
	"title": "Access to host PID",
	"short_code": "no-host-pid",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "Sharing the host's PID namespace lets the workload see every process on the node, read their environment and, with enough privilege, signal or trace them.",
	"recommended_actions": "Do not set 'spec.template.spec.hostPID' to true.",
	"url": "https://avd.aquasec.com/misconfig/ksv010",
}

deny contains res if {
	k8s.pod_spec.hostPID == true
	res := {"msg": sprintf("%s should not set '%s.hostPID' to true", [k8s.workload_ref, k8s.pod_spec_path])}
}
