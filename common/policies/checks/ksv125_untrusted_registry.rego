package builtin.trivyrs.KSV0125

import data.builtin.trivyrs.lib.k8s

# Upstream's ID has four digits.
__rego_metadata__ := {
	"id": "KSV0125",
	"avd_id": "AVD-KSV-0125",
	"title": "Restrict container images to trusted registries",
	"short_code": "use-trusted-registry",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "Ensure that all containers use images only from trusted registry domains.",
	"recommended_actions": "Use images from trusted registries.",
	"url": "https://avd.aquasec.com/misconfig/ksv0125",
}

# Upstream trusts Azure Container Registry, the Amazon ECR regions and Google Container
# Registry unless `data.ksv0125.trusted_registries` names others (a library of the policies
# ConfigMap declaring `package ksv0125` can, as with upstream). Docker Hub, quay.io, ghcr.io
# and registry.k8s.io are not trusted by default.
default_trusted := {
	"azurecr.io",
	"ecr.us-east-2.amazonaws.com", "ecr.us-east-1.amazonaws.com",
	"ecr.us-west-1.amazonaws.com", "ecr.us-west-2.amazonaws.com",
	"ecr.af-south-1.amazonaws.com", "ecr.ap-east-1.amazonaws.com",
	"ecr.ap-south-1.amazonaws.com", "ecr.ap-northeast-2.amazonaws.com",
	"ecr.ap-southeast-1.amazonaws.com", "ecr.ap-southeast-2.amazonaws.com",
	"ecr.ap-northeast-1.amazonaws.com", "ecr.ca-central-1.amazonaws.com",
	"ecr.cn-north-1.amazonaws.com.cn", "ecr.cn-northwest-1.amazonaws.com.cn",
	"ecr.eu-central-1.amazonaws.com", "ecr.eu-west-1.amazonaws.com",
	"ecr.eu-west-2.amazonaws.com", "ecr.eu-south-1.amazonaws.com",
	"ecr.eu-west-3.amazonaws.com", "ecr.eu-north-1.amazonaws.com",
	"ecr.me-south-1.amazonaws.com", "ecr.sa-east-1.amazonaws.com",
	"ecr.us-gov-east-1.amazonaws.com", "ecr.us-gov-west-1.amazonaws.com",
	"gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io",
}

trusted := configured if {
	configured := data.ksv0125.trusted_registries
	collection(configured)
	count(configured) > 0
} else := default_trusted

collection(x) if is_array(x)

collection(x) if is_set(x)

collection(x) if is_object(x)

# The registry is whatever precedes the image's first '/', so a Docker Hub name with an
# organisation ("library/nginx") counts as one from registry "library"; a name without '/'
# has none and passes. A registry is trusted when it ends with a trusted name
# ("myacr.azurecr.io", but also "notgcr.io").
registry(image) := parts[0] if {
	parts := split(image, "/")
	count(parts) > 1
}

trusted_registry(r) if {
	some t in trusted
	is_string(t)
	endswith(r, t)
}

# Regular and init containers; as upstream's, a nameless one never fails.
deny contains res if {
	some c in k8s.pod_containers
	image := c.image
	is_string(image)
	r := registry(image)
	not trusted_registry(r)
	res := {"msg": sprintf("Container %s in %s %s (namespace: %s) uses an image from an untrusted registry.", [c.name, lower(k8s.kind), k8s.name, k8s.namespace])}
}
