package builtin.trivyrs.KSV102

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV102",
	"avd_id": "AVD-KSV-0102",
	"title": "Tiller Is Deployed",
	"short_code": "no-tiller",
	"severity": "CRITICAL",
	"type": "Kubernetes Security Check",
	"description": "Check if Helm Tiller component is deployed.",
	"recommended_actions": "Migrate to Helm v3 which no longer has Tiller component",
	"url": "https://avd.aquasec.com/misconfig/ksv102",
}

# Helm v2's Tiller, recognised as upstream does: by the object's name or labels (then every
# container is named), by a container image, or by the Pod's (or a named template's) own
# metadata.
tiller_metadata(meta) if {
	name := object.get(meta, "name", "")
	is_string(name)
	contains(name, "tiller")
}

tiller_metadata(meta) if object.get(meta, ["labels", "app"], "") == "helm"

tiller_metadata(meta) if object.get(meta, ["labels", "name"], "") == "tiller"

tiller contains name if {
	meta := object.get(input, "metadata", {})
	is_object(meta)
	tiller_metadata(meta)
	some c in k8s.pod_containers
	name := c.name
}

tiller contains name if {
	some c in k8s.pod_containers
	image := object.get(c, "image", "")
	is_string(image)
	contains(image, "tiller")
	name := c.name
}

pod_metadata := m if {
	k8s.kind == "Pod"
	m := object.get(input, "metadata", {})
} else := m if {
	path := array.concat(array.slice(k8s.pod_spec_paths[k8s.kind], 0, count(k8s.pod_spec_paths[k8s.kind]) - 1), ["metadata"])
	m := object.get(input, path, {})
}

tiller contains name if {
	is_object(pod_metadata)
	tiller_metadata(pod_metadata)
	name := pod_metadata.name
}

deny contains res if {
	some name in tiller
	is_string(name)
	res := {"msg": sprintf("container '%s' of %s '%s' in '%s' namespace shouldn't have tiller deployed", [name, lower(k8s.kind), k8s.name, k8s.namespace])}
}
