package builtin.trivyrs.KSV026

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV026",
	"avd_id": "AVD-KSV-0026",
	"title": "Unsafe sysctl options set",
	"short_code": "no-unsafe-sysctl",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "Sysctls can disable security mechanisms or affect all containers on a host, and should be disallowed except for an allowed 'safe' subset. A sysctl is considered safe if it is namespaced in the container or the Pod, and it is isolated from other Pods or processes on the same Node.",
	"recommended_actions": "Do not set 'spec.securityContext.sysctls' or set to values in an allowed subset",
	"url": "https://avd.aquasec.com/misconfig/ksv026",
}

# The pod security standard's "safe" sysctls as of Kubernetes 1.32 (what upstream allows
# when it does not know the cluster's version).
allowed := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
}

disallowed := {name |
	list := object.get(k8s.pod_security_context, "sysctls", [])
	is_array(list)
	some s in list
	name := object.get(s, "name", "")
	is_string(name)
	not name in allowed
}

deny contains res if {
	count(disallowed) > 0
	names := sprintf("[%s]", [concat(", ", [json.marshal(n) | some n in sort(disallowed)])])
	res := {"msg": sprintf("Pod '%s' has disallowed sysctls: %s and must only use allowed sysctls.", [k8s.name, names])}
}
