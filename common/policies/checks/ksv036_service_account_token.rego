package builtin.trivyrs.KSV036

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV036",
	"avd_id": "AVD-KSV-0036",
	"title": "Protecting Pod service account tokens",
	"short_code": "no-auto-mount-service-token",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "ensure that Pod specifications disable the secret token being mounted by setting automountServiceAccountToken: false",
	"recommended_actions": "Disable the mounting of service account secret token by setting automountServiceAccountToken to false",
	"url": "https://avd.aquasec.com/misconfig/ksv036",
}

# Upstream's verdict, edge cases included: only an explicitly mounted token fails. The
# setting is read from the object's own `spec` (a Pod's pod spec; a controller's spec has no
# such field, so for controllers only a mount of the token path counts), and without the
# setting a regular or init container that mounts the token path fails.
token_path := "/var/run/secrets/kubernetes.io/serviceaccount"

own_spec := s if {
	s := input.spec
	is_object(s)
} else := {}

token_mounted if own_spec.automountServiceAccountToken == true

token_mounted if {
	not "automountServiceAccountToken" in object.keys(own_spec)
	some c in k8s.pod_containers
	mounts := object.get(c, "volumeMounts", [])
	is_array(mounts)
	some m in mounts
	is_object(m)
	object.get(m, "mountPath", "") == token_path
}

deny contains res if {
	token_mounted
	res := {"msg": sprintf("Container of %s '%s' should set 'spec.automountServiceAccountToken' to false", [k8s.kind, k8s.name])}
}
