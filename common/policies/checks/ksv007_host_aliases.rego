package builtin.trivyrs.KSV007

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV007",
	"avd_id": "AVD-KSV-0007",
	"title": "Manages /etc/hosts",
	"short_code": "no-hostaliases",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "Managing /etc/hosts aliases can prevent the container engine from modifying the file after a pod’s containers have already been started.",
	"recommended_actions": "Do not set 'spec.template.spec.hostAliases'.",
	"url": "https://avd.aquasec.com/misconfig/ksv007",
}

deny contains res if {
	"hostAliases" in object.keys(k8s.pod_spec)
	res := {"msg": sprintf("'%s' '%s' in '%s' namespace should not set spec.template.spec.hostAliases", [lower(k8s.kind), k8s.name, k8s.namespace])}
}
