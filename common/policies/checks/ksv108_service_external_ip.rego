package builtin.trivyrs.KSV108

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV108",
	"avd_id": "AVD-KSV-0108",
	"title": "Service with External IP",
	"short_code": "no-svc-with-extip",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "Services with external IP addresses allows direct access from the internet and might expose risk for CVE-2020-8554",
	"recommended_actions": "Do not set spec.externalIPs",
	"url": "https://avd.aquasec.com/misconfig/ksv108",
}

__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [{"kind": "Service"}]}]}

# Upstream allows no external IP and no external name.
allowed_ips := set()

allowed_names := set()

external_ips if {
	ips := object.get(input, ["spec", "externalIPs"], [])
	is_array(ips)
	count({ip | some ip in ips} - allowed_ips) > 0
}

# Upstream writes `not allowedNames[spec.externalName]`, which reads as "true when there is
# no externalName" — but OPA evaluates the inner reference before the negation (see
# open-policy-agent/opa#1877), so a Service without `externalName` passes (upstream's own
# test of a plain Service expects no failure) and one with any `externalName` fails.
# regorus negates the whole undefined expression instead, hence the explicit look-up here.
external_name if {
	spec := input.spec
	is_object(spec)
	name := spec.externalName
	not name in allowed_names
}

fails if external_ips

fails if external_name

deny contains res if {
	k8s.kind == "Service"
	fails
	res := {"msg": sprintf("%s '%s' in '%s' namespace should not set external IPs or external Name", [k8s.kind, k8s.name, k8s.namespace])}
}
