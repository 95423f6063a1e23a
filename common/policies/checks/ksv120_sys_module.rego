package builtin.trivyrs.KSV120

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV120",
	"avd_id": "AVD-KSV-0120",
	"title": "SYS_MODULE capability added",
	"short_code": "no-sysmodule-capability",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "The SYS_MODULE capability grants attackers the ability to install and remove kernel modules, posing serious security risks.",
	"recommended_actions": "To mitigate potential security risks, it is strongly recommended to remove the SYS_MODULE capability from 'containers[].securityContext.capabilities.add'. It is advisable to follow the practice of dropping all capabilities and only adding the necessary ones.",
	"url": "https://avd.aquasec.com/misconfig/ksv120",
}

inherited_fields := {"runAsGroup", "runAsNonRoot", "runAsUser", "seLinuxOptions", "seccompProfile", "windowsOptions"}

# The container as upstream's library hands it to the check: its securityContext is its
# own over the pod-level fields it inherits.
resolved(c) := object.union(c, {"securityContext": object.union(
	{f: v | some f, v in k8s.pod_security_context; f in inherited_fields},
	k8s.security_context(c),
)})

# A regular or init container adding SYS_MODULE, spelled exactly so. Upstream's message
# prints the whole container where it means its name; so does this one (without the source
# positions Trivy's parser adds to every object).
deny contains res if {
	some c in k8s.pod_containers
	added := object.get(k8s.security_context(c), ["capabilities", "add"], [])
	is_array(added)
	"SYS_MODULE" in added
	res := {"msg": sprintf("container %s of %s %s in %s namespace should not include 'SYS_MODULE' in securityContext.capabilities.add", [resolved(c), lower(k8s.kind), k8s.name, k8s.namespace])}
}
