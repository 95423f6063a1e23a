package builtin.trivyrs.KSV036

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV036",
	"avd_id": "AVD-KSV-0036",
	"title": "Protecting Pod service account tokens",
	"short_code": "no-auto-mount-service-token",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "A pod running as the namespace's default service account gets its API token mounted unless told otherwise; the token is of no use to most workloads and of much use to an attacker.",
	"recommended_actions": "Set 'automountServiceAccountToken' to false in the pod spec, or run the pod as a dedicated service account.",
	"url": "https://avd.aquasec.com/misconfig/ksv036",
}

default_service_account if {
	sa := object.get(k8s.pod_spec, "serviceAccountName", object.get(k8s.pod_spec, "serviceAccount", ""))
	sa in {"", "default", null}
}

deny contains res if {
	default_service_account
	object.get(k8s.pod_spec, "automountServiceAccountToken", null) != false
	res := {"msg": sprintf("%s uses the default service account and should set '%s.automountServiceAccountToken' to false", [k8s.workload_ref, k8s.pod_spec_path])}
}
