package builtin.trivyrs.KSV024

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV024",
	"avd_id": "AVD-KSV-0024",
	"title": "Access to host ports",
	"short_code": "no-host-port-access",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "A host port binds the container to the node's network interfaces, bypassing Services and network policies, and ties the pod to nodes where the port is free.",
	"recommended_actions": "Do not set containers[].ports[].hostPort; expose the workload through a Service.",
	"url": "https://avd.aquasec.com/misconfig/ksv024",
}

deny contains res if {
	some c in k8s.containers
	ports := object.get(c, "ports", [])
	is_array(ports)
	some p in ports
	is_number(p.hostPort)
	p.hostPort != 0
	res := {"msg": sprintf("%s should not set host port %v in 'ports[*].hostPort'", [k8s.container_ref(c), p.hostPort])}
}
