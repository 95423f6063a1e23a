package builtin.trivyrs.KSV119

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV119",
	"avd_id": "AVD-KSV-0119",
	"title": "NET_RAW capability added",
	"short_code": "no-net-raw",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "The NET_RAW capability grants attackers the ability to eavesdrop on network traffic or generate IP traffic with falsified source addresses, posing serious security risks.",
	"recommended_actions": "To mitigate potential security risks, it is strongly recommended to remove the NET_RAW capability from 'containers[].securityContext.capabilities.add'. It is advisable to follow the practice of dropping all capabilities and only adding the necessary ones.",
	"url": "https://avd.aquasec.com/misconfig/ksv119",
}

# A regular or init container adding NET_RAW, spelled exactly so (as upstream).
deny contains res if {
	some c in k8s.pod_containers
	added := object.get(k8s.security_context(c), ["capabilities", "add"], [])
	is_array(added)
	"NET_RAW" in added
	res := {"msg": sprintf("container %s of %s %s in %s namespace should not include 'NET_RAW' in securityContext.capabilities.add", [object.get(c, "name", ""), lower(k8s.kind), k8s.name, k8s.namespace])}
}
