package builtin.trivyrs.KSV027

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV027",
	"avd_id": "AVD-KSV-0027",
	"title": "Non-default /proc masks set",
	"short_code": "no-custom-proc-mask",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "According to pod security standard '/proc Mount Type', the default /proc masks are set up to reduce attack surface, and should be required.",
	"recommended_actions": "Do not set spec.containers[*].securityContext.procMount and spec.initContainers[*].securityContext.procMount.",
	"url": "https://avd.aquasec.com/misconfig/ksv027",
}

# Any regular or init container that sets `procMount` at all (even to Default), as upstream.
deny contains res if {
	some c in k8s.pod_containers
	"procMount" in object.keys(k8s.security_context(c))
	res := {"msg": sprintf("%s '%s' should not set 'spec.containers[*].securityContext.procMount' or 'spec.initContainers[*].securityContext.procMount'", [k8s.kind, k8s.name])}
}
