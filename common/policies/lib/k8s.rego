# Shared helpers for the built-in checks of trivy-operator-rs.
#
# The package name is deliberately not `lib.kubernetes`: users ship their own
# `library.kubernetes.rego` with that package, and the two must not merge.
# `input` is the workload object itself (apiVersion, kind, metadata, spec).
package builtin.trivyrs.lib.k8s

# Where each workload kind keeps its pod template, as a path below the object.
pod_spec_paths := {
	"Pod": ["spec"],
	"ReplicaSet": ["spec", "template", "spec"],
	"ReplicationController": ["spec", "template", "spec"],
	"Deployment": ["spec", "template", "spec"],
	"StatefulSet": ["spec", "template", "spec"],
	"DaemonSet": ["spec", "template", "spec"],
	"Job": ["spec", "template", "spec"],
	"CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
}

kind := k if {
	k := input.kind
	is_string(k)
} else := ""

name := n if {
	n := input.metadata.name
	is_string(n)
} else := ""

# The object's namespace ("default" when it names none, as upstream's checks say).
namespace := ns if {
	ns := input.metadata.namespace
	is_string(ns)
} else := "default"

# The dotted path of the pod spec, for messages ("spec.template.spec").
pod_spec_path := concat(".", pod_spec_paths[kind])

# The pod spec of the workload; undefined for kinds that have none.
pod_spec := s if {
	s := object.get(input, pod_spec_paths[kind], {})
	is_object(s)
}

# Annotations of the pod template (or of the Pod itself).
pod_annotations := a if {
	path := array.concat(array.slice(pod_spec_paths[kind], 0, count(pod_spec_paths[kind]) - 1), ["metadata", "annotations"])
	a := object.get(input, path, {})
	is_object(a)
} else := {}

# Every container of the workload: regular, init and ephemeral ones.
container_fields := ["containers", "initContainers", "ephemeralContainers"]

containers contains c if {
	some field in container_fields
	list := object.get(pod_spec, field, [])
	is_array(list)
	some c in list
	is_object(c)
}

# Regular and init containers: the ones upstream's checks look at (not ephemeral ones).
pod_containers contains c if {
	some field in ["containers", "initContainers"]
	list := object.get(pod_spec, field, [])
	is_array(list)
	some c in list
	is_object(c)
}

volumes contains v if {
	list := object.get(pod_spec, "volumes", [])
	is_array(list)
	some v in list
	is_object(v)
}

# "Container 'nginx' of ReplicaSet 'nginx-6d4cf56db6'"
container_ref(c) := sprintf("Container '%s' of %s '%s'", [object.get(c, "name", ""), kind, name])

# "ReplicaSet 'nginx-6d4cf56db6'"
workload_ref := sprintf("%s '%s'", [kind, name])

# The container's securityContext, or {} when it has none.
security_context(c) := sc if {
	sc := c.securityContext
	is_object(sc)
} else := {}

# The pod-level securityContext, or {} when it has none.
pod_security_context := sc if {
	sc := pod_spec.securityContext
	is_object(sc)
} else := {}

# A securityContext field a container inherits from the pod when it does not set it
# (runAsUser, runAsGroup, runAsNonRoot, seccompProfile, ...); null when neither sets it.
effective(c, field) := object.get(security_context(c), field, object.get(pod_security_context, field, null))

# The container's capabilities lists, upper-cased; empty when not set.
capabilities(c, which) := {upper(cap) |
	caps := object.get(security_context(c), ["capabilities", which], [])
	is_array(caps)
	some cap in caps
	is_string(cap)
}

# A resource quantity the container declares, e.g. resource(c, "limits", "cpu").
has_resource(c, section, res) if {
	v := c.resources[section][res]
	v != null
	v != ""
}

# The seccomp profile type in effect for a container, "" when none is set:
# the container's securityContext, the pod's, then the legacy annotations.
seccomp_type(c) := t if {
	p := effective(c, "seccompProfile")
	is_object(p)
	t := p.type
	is_string(t)
} else := t if {
	legacy := pod_annotations[concat("/", ["container.seccomp.security.alpha.kubernetes.io", object.get(c, "name", "")])]
	t := legacy_seccomp_type(legacy)
} else := t if {
	t := legacy_seccomp_type(pod_annotations["seccomp.security.alpha.kubernetes.io/pod"])
} else := ""

legacy_seccomp_type(v) := "RuntimeDefault" if {
	v in {"runtime/default", "docker/default"}
} else := "Localhost" if {
	startswith(v, "localhost/")
} else := "Unconfined" if {
	v == "unconfined"
}
