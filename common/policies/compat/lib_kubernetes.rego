# A stand-in for the `lib.kubernetes` library upstream ships with its built-in policies,
# so custom policies copied from upstream (`import data.lib.kubernetes`,
# `kubernetes.containers[_]`, `kubernetes.name`, ...) find the helpers they expect. It
# covers the commonly used part of that library's interface, written afresh. It is loaded
# only when the ConfigMap does not provide a `lib.kubernetes` package of its own.
package lib.kubernetes

default is_gatekeeper := false

object := input

kind := object.kind

name := object.metadata.name

default namespace := "default"

namespace := object.metadata.namespace

is_pod if kind == "Pod"

is_replicaset if kind == "ReplicaSet"

is_replicationcontroller if kind == "ReplicationController"

is_deployment if kind == "Deployment"

is_statefulset if kind == "StatefulSet"

is_daemonset if kind == "DaemonSet"

is_job if kind == "Job"

is_cronjob if kind == "CronJob"

is_service if kind == "Service"

is_controller if kind in {"ReplicaSet", "ReplicationController", "Deployment", "StatefulSet", "DaemonSet", "Job"}

# The pod, or the pod templates, of the object.
pods contains pod if {
	is_pod
	pod := object
}

pods contains pod if {
	is_controller
	pod := object.spec.template
}

pods contains pod if {
	is_cronjob
	pod := object.spec.jobTemplate.spec.template
}

# A pod's regular and init containers.
pod_containers(pod) := [c |
	some field in ["containers", "initContainers"]
	some c in object.get(pod, ["spec", field], [])
]

containers contains container if {
	some pod in pods
	some container in pod_containers(pod)
}

volumes contains volume if {
	some pod in pods
	some volume in object.get(pod, ["spec", "volumes"], [])
}

host_ipcs contains v if {
	some pod in pods
	v := pod.spec.hostIPC
}

host_networks contains v if {
	some pod in pods
	v := pod.spec.hostNetwork
}

host_pids contains v if {
	some pod in pods
	v := pod.spec.hostPID
}

host_aliases contains v if {
	some pod in pods
	v := pod.spec.hostAliases
}

dropped_capability(container, cap) if {
	some c in container.securityContext.capabilities.drop
	upper(c) == upper(cap)
}

added_capability(container, cap) if {
	some c in container.securityContext.capabilities.add
	upper(c) == upper(cap)
}

# [repository, tag]; "latest" when the reference names no tag.
split_image(image) := [image, "latest"] if {
	not contains(image, ":")
}

split_image(image) := [repo, tag] if {
	contains(image, ":")
	parts := split(image, ":")
	tag := parts[count(parts) - 1]
	repo := concat(":", array.slice(parts, 0, count(parts) - 1))
}
