package builtin.trivyrs.KSV038

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV038",
	"avd_id": "AVD-KSV-0038",
	"title": "Selector usage in network policies",
	"short_code": "selector-usage-in-network-policies",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "ensure that network policies selectors are applied to pods or namespaces to restricted ingress and egress traffic within the pod network",
	"recommended_actions": "create network policies and ensure that pods are selected using the podSelector and/or the namespaceSelector options",
	"url": "https://avd.aquasec.com/misconfig/ksv038",
}

# Upstream's selector names no kind (it runs on every kind, failing only NetworkPolicies);
# here it is evaluated for NetworkPolicies only.
__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [{"kind": "NetworkPolicy"}]}]}

# A field is there as upstream tests it: present with any value but `false` (so an empty
# `podSelector: {}` is set).
has(obj, field) if {
	is_object(obj)
	object.get(obj, field, false) != false
}

# Some peer of the spec's ingress (`from`) or egress (`to`) rules sets `selector`.
peer_selects(spec, rules, peers, selector) if {
	is_object(spec)
	is_array(spec[rules])
	some rule in spec[rules]
	is_object(rule)
	is_array(rule[peers])
	some peer in rule[peers]
	has(peer, selector)
}

# Upstream's verdict in practice: the API server always writes `spec.podSelector` (at least
# `{}`), so every NetworkPolicy it returns passes; only a spec without `podSelector`,
# without `namespaceSelector` and with no selector in an ingress or egress peer fails.
# Upstream's two "deny all" branches read `kubernetes.spec.podSelector` (the library defines
# no `spec`) and `spec.policyType`; they never apply, and a `podSelector` passes anyway.
selects(spec) if has(spec, "podSelector")

selects(spec) if has(spec, "namespaceSelector")

selects(spec) if {
	some [rules, peers] in [["ingress", "from"], ["egress", "to"]]
	some selector in ["podSelector", "namespaceSelector"]
	peer_selects(spec, rules, peers, selector)
}

deny contains res if {
	lower(k8s.kind) == "networkpolicy"
	not selects(object.get(input, "spec", null))
	res := {"msg": "Network policy should uses podSelector and/or the namespaceSelector to restrict ingress and egress traffic within the Pod network"}
}
