package builtin.trivyrs.KSV01011

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV01011",
	"avd_id": "AVD-KSV-01011",
	"title": "system:authenticate group access binding",
	"short_code": "no-system-authenticated-group-bind",
	"severity": "CRITICAL",
	"type": "Kubernetes Security Check",
	"description": "Binding to system:authenticate group to any clusterrole or role is a security risk.",
	"recommended_actions": "Remove system:authenticated group binding from clusterrolebinding or rolebinding.",
	"url": "https://avd.aquasec.com/misconfig/ksv01011",
}

__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [{"kind": "RoleBinding"}, {"kind": "ClusterRoleBinding"}]}]}

# Upstream's library spells the kinds it accepts "RoleBinding" and "ClusterRolebinding", so
# a ClusterRoleBinding as the API server returns it never fails (it is evaluated, and
# passes); upstream's own tests use the misspelt kind.
binding_kinds := {"RoleBinding", "ClusterRolebinding"}

subject_names := {"system:authenticated"}

bound if {
	k8s.kind in binding_kinds
	subjects := object.get(input, "subjects", [])
	is_array(subjects)
	some subject in subjects
	is_object(subject)
	subject.name in subject_names
}

# Upstream fails it on GKE only: when the cluster version (`data.k8s.version`, which
# upstream fills with the API server's version) contains "-gke". Without that data the
# check never fails.
gke if {
	version := data.k8s.version
	is_string(version)
	contains(version, "-gke")
}

deny contains res if {
	gke
	bound
	# Upstream prints its set of names as OPA prints a set.
	res := {"msg": sprintf("%s '%s' should not bind to roles {\"system:authenticated\"}", [k8s.kind, k8s.name])}
}
