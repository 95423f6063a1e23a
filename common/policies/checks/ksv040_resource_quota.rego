package builtin.trivyrs.KSV040

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV040",
	"avd_id": "AVD-KSV-0040",
	"title": "resource quota usage",
	"short_code": "resource-quota-usage",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "Ensure that a ResourceQuota policy is configured to limit aggregate resource usage within a namespace",
	"recommended_actions": "Create a ResourceQuota policy with memory and CPU quotas for each namespace",
	"url": "https://avd.aquasec.com/misconfig/ksv040",
}

__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [{"kind": "ResourceQuota"}]}]}

# The hard quotas it must give, each set to anything but `false` (as upstream tests it).
required := ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]

configured if {
	hard := object.get(input, ["spec", "hard"], {})
	is_object(hard)
	every resource in required {
		object.get(hard, resource, false) != false
	}
}

deny contains res if {
	k8s.kind == "ResourceQuota"
	not configured
	res := {"msg": "A resource quota policy with hard memory and CPU limits should be configured per namespace"}
}
