package builtin.trivyrs.KSV013

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV013",
	"avd_id": "AVD-KSV-0013",
	"title": "Image tag \":latest\" used",
	"short_code": "use-specific-tags",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "An image without a tag, or tagged 'latest', changes under the workload: two replicas may run different code, and a rollback cannot name what ran before.",
	"recommended_actions": "Use a specific image tag that is not 'latest', or pin the image by digest.",
	"url": "https://avd.aquasec.com/misconfig/ksv013",
}

# The tag of an image reference: what follows the last ':' of the last path
# segment (a ':' before the last '/' is a registry port). "" when untagged.
tag(image) := t if {
	segments := split(image, "/")
	last := segments[count(segments) - 1]
	contains(last, ":")
	parts := split(last, ":")
	t := parts[count(parts) - 1]
} else := ""

pinned(image) if contains(image, "@")

deny contains res if {
	some c in k8s.containers
	image := object.get(c, "image", "")
	is_string(image)
	not pinned(image)
	tag(image) == ""
	res := {"msg": sprintf("%s should specify an image tag", [k8s.container_ref(c)])}
}

deny contains res if {
	some c in k8s.containers
	image := object.get(c, "image", "")
	is_string(image)
	not pinned(image)
	tag(image) == "latest"
	res := {"msg": sprintf("%s should specify an image tag other than 'latest'", [k8s.container_ref(c)])}
}
