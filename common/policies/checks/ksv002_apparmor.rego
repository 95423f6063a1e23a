package builtin.trivyrs.KSV002

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV002",
	"avd_id": "AVD-KSV-0002",
	"title": "Runtime/Default AppArmor profile not set",
	"short_code": "use-default-apparmor-profile",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "According to pod security standard 'AppArmor', the AppArmor key must be set to the runtime/default profile or to be undefined.",
	"recommended_actions": "set the 'runtime/default' value from 'container.apparmor.security.beta.kubernetes.io'.",
	"url": "https://avd.aquasec.com/misconfig/ksv002",
}

# A regular or init container whose AppArmor annotation (on the Pod or the pod template)
# names anything but the runtime's default profile; no annotation passes.
deny contains res if {
	some c in k8s.pod_containers
	name := object.get(c, "name", "")
	profile := k8s.pod_annotations[concat("/", ["container.apparmor.security.beta.kubernetes.io", name])]
	profile != "runtime/default"
	res := {"msg": sprintf("Container '%s' of %s '%s' should specify an AppArmor profile", [name, k8s.kind, k8s.name])}
}
