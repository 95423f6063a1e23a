package builtin.trivyrs.KSV117

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV117",
	"avd_id": "AVD-KSV-0117",
	"title": "Prevent binding to privileged ports",
	"short_code": "no-privilege-port-binding",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "The ports which are lower than 1024 receive and transmit various sensitive and privileged data. Allowing containers to use them can bring serious implications.",
	"recommended_actions": "Do not map the container ports to privileged host ports when starting a container.",
	"url": "https://avd.aquasec.com/misconfig/ksv117",
}

deny contains res if {
	some c in k8s.pod_containers
	ports := object.get(c, "ports", [])
	is_array(ports)
	some p in ports
	port := object.get(p, "containerPort", 1024)
	is_number(port)
	port < 1024
	res := {"msg": sprintf("%s %s in %s namespace should not set spec.template.spec.containers.ports.containerPort to less than 1024", [lower(k8s.kind), k8s.name, k8s.namespace])}
}
