package builtin.trivyrs.KSV008

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV008",
	"avd_id": "AVD-KSV-0008",
	"title": "Access to host IPC namespace",
	"short_code": "no-shared-ipc-namespace",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "Sharing the host's IPC namespace lets the workload read and write the shared memory of every process on the node.",
	"recommended_actions": "Do not set 'spec.template.spec.hostIPC' to true.",
	"url": "https://avd.aquasec.com/misconfig/ksv008",
}

deny contains res if {
	k8s.pod_spec.hostIPC == true
	res := {"msg": sprintf("%s should not set '%s.hostIPC' to true", [k8s.workload_ref, k8s.pod_spec_path])}
}
