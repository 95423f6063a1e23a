package builtin.trivyrs.KSV122

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV122",
	"avd_id": "AVD-KSV-0122",
	"title": "Anonymous user access binding",
	"short_code": "no-anonymous-user-bind",
	"severity": "CRITICAL",
	"type": "Kubernetes Security Check",
	"description": "Binding to anonymous user to any clusterrole or role is a security risk.",
	"recommended_actions": "Remove anonymous user binding from clusterrolebinding or rolebinding.",
	"url": "https://avd.aquasec.com/misconfig/ksv122",
}

__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [{"kind": "RoleBinding"}, {"kind": "ClusterRoleBinding"}]}]}

# Upstream's library spells the kinds it accepts "RoleBinding" and "ClusterRolebinding", so
# a ClusterRoleBinding as the API server returns it never fails (it is evaluated, and
# passes); upstream's own tests use the misspelt kind.
binding_kinds := {"RoleBinding", "ClusterRolebinding"}

subject_names := {"system:unauthenticated", "system:anonymous"}

bound if {
	k8s.kind in binding_kinds
	subjects := object.get(input, "subjects", [])
	is_array(subjects)
	some subject in subjects
	is_object(subject)
	subject.name in subject_names
}

deny contains res if {
	bound
	# Upstream prints its set of names as OPA prints a set.
	res := {"msg": sprintf("%s '%s' should not bind to roles {\"system:anonymous\", \"system:unauthenticated\"}", [k8s.kind, k8s.name])}
}
