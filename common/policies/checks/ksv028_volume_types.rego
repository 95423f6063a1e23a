package builtin.trivyrs.KSV028

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV028",
	"avd_id": "AVD-KSV-0028",
	"title": "Non-core volume types used.",
	"short_code": "no-non-ephemeral-volumes",
	"severity": "LOW",
	"type": "Kubernetes Security Check",
	"description": "According to pod security standard 'Volume types', non-core volume types must not be used.",
	"recommended_actions": "Do not Set 'spec.volumes[*]' to any of the disallowed volume types.",
	"url": "https://avd.aquasec.com/misconfig/ksv028",
}

# The volume sources the restricted pod security standard does not allow (hostPath is
# KSV023's).
disallowed := {
	"gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
	"rbd", "flexVolume", "cinder", "cephFS", "flocker", "fc", "azureFile", "vsphereVolume",
	"quobyte", "azureDisk", "portworxVolume", "scaleIO", "storageos",
}

deny contains res if {
	some v in k8s.volumes
	some key in object.keys(v)
	key in disallowed
	res := {"msg": sprintf("%s '%s' should set 'spec.volumes[*]' to an allowed volume type", [k8s.kind, k8s.name])}
}
