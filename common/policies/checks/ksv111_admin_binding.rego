package builtin.trivyrs.KSV111

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV111",
	"avd_id": "AVD-KSV-0111",
	"title": "User with admin access",
	"short_code": "cluster-admin0-role-only-used-where-required",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "Either cluster-admin or those granted powerful permissions.",
	"recommended_actions": "Remove binding for clusterrole 'cluster-admin', 'admin' or 'edit'",
	"url": "https://avd.aquasec.com/misconfig/ksv111",
}

__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [{"kind": "RoleBinding"}, {"kind": "ClusterRoleBinding"}]}]}

# Bound by name, whatever the roleRef's kind (a Role named `edit` counts).
admin_roles := {"cluster-admin", "admin", "edit"}

deny contains res if {
	lower(k8s.kind) in {"rolebinding", "clusterrolebinding"}
	object.get(input, ["roleRef", "name"], "") in admin_roles
	# Upstream prints its list of roles as OPA prints an array.
	res := {"msg": sprintf("%s '%s' should not bind to roles [\"cluster-admin\", \"admin\", \"edit\"]", [k8s.kind, k8s.name])}
}
