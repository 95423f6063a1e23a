package builtin.trivyrs.KSV023

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV023",
	"avd_id": "AVD-KSV-0023",
	"title": "hostPath volumes mounted",
	"short_code": "no-mounted-hostpath",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "A hostPath volume exposes a directory of the node to the workload, which can read its secrets or plant files the node later trusts.",
	"recommended_actions": "Do not use hostPath volumes; prefer emptyDir, configMap, secret or persistent volumes.",
	"url": "https://avd.aquasec.com/misconfig/ksv023",
}

deny contains res if {
	some v in k8s.volumes
	v.hostPath
	res := {"msg": sprintf("%s should not set '%s.volumes[*].hostPath' (volume '%s', path '%s')", [k8s.workload_ref, k8s.pod_spec_path, object.get(v, "name", ""), object.get(v.hostPath, "path", "")])}
}
