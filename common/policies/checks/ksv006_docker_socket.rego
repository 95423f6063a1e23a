package builtin.trivyrs.KSV006

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV006",
	"avd_id": "AVD-KSV-0006",
	"title": "hostPath volume mounted with docker.sock",
	"short_code": "no-docker-sock-mount",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "Whoever can talk to the container runtime socket can start privileged containers on the node, so mounting it hands the node to the workload.",
	"recommended_actions": "Do not mount the container runtime socket (/var/run/docker.sock, containerd.sock, crio.sock) into workloads.",
	"url": "https://avd.aquasec.com/misconfig/ksv006",
}

runtime_sockets := {
	"/var/run/docker.sock",
	"/run/docker.sock",
	"/var/run/containerd/containerd.sock",
	"/run/containerd/containerd.sock",
	"/var/run/crio/crio.sock",
	"/run/crio/crio.sock",
}

deny contains res if {
	some v in k8s.volumes
	path := trim_suffix(v.hostPath.path, "/")
	path in runtime_sockets
	res := {"msg": sprintf("%s should not mount the container runtime socket '%s' (volume '%s')", [k8s.workload_ref, path, object.get(v, "name", "")])}
}
