package builtin.trivyrs.KSV104

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV104",
	"avd_id": "AVD-KSV-0104",
	"title": "Seccomp policies disabled",
	"short_code": "no-seccomp-unconfined",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "A program inside the container can bypass Seccomp protection policies.",
	"recommended_actions": "Specify seccomp either by annotation or by seccomp profile type having allowed values as per pod security standards",
	"url": "https://avd.aquasec.com/misconfig/ksv104",
}

deny contains res if {
	some c in k8s.containers
	k8s.seccomp_type(c) in {"", "Unconfined"}
	res := {"msg": sprintf("%s should specify a seccomp profile other than 'Unconfined'", [k8s.container_ref(c)])}
}
