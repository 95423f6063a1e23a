package builtin.trivyrs.KSV039

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV039",
	"avd_id": "AVD-KSV-0039",
	"title": "limit range usage",
	"short_code": "limit-range-usage",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "Ensure that a LimitRange policy is configured to limit resource usage for namespaces or nodes",
	"recommended_actions": "Create a LimitRange policy with default requests and limits for each container",
	"url": "https://avd.aquasec.com/misconfig/ksv039",
}

__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [{"kind": "LimitRange"}]}]}

# What one of the limits must give, each set to anything but `false` (as upstream tests it).
required := ["type", "max", "min", "default", "defaultRequest"]

complete(limit) if {
	is_object(limit)
	every field in required {
		object.get(limit, field, false) != false
	}
}

# One complete limit is enough; the others may give less.
configured if {
	limits := object.get(input, ["spec", "limits"], [])
	is_array(limits)
	some limit in limits
	complete(limit)
}

deny contains res if {
	k8s.kind == "LimitRange"
	not configured
	res := {"msg": "A LimitRange policy with a default requests and limits for each container should be configured"}
}
