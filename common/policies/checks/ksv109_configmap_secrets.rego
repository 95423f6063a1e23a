package builtin.trivyrs.KSV109

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV109",
	"avd_id": "AVD-KSV-0109",
	"title": "ConfigMap with secrets",
	"short_code": "configMap-with-secrets",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "Storing secrets in configMaps is unsafe",
	"recommended_actions": "Remove password/secret from configMap data value",
	"url": "https://avd.aquasec.com/misconfig/ksv109",
}

__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [{"kind": "ConfigMap"}]}]}

# The words upstream looks for, in any case: in a data key, or in a line of a value followed
# by `=` or `:` (blanks between allowed; Go's `\s`, upstream's, is ASCII only).
words := [
	"password", "pass", "pword", "passphrase", "passwrd", "passwd", "secret", "secretkey",
	"appSecret", "clientSecret", "aws_access_key_id", "pswrd", "token", "pwd",
]

# Upstream tries its expressions one by one, on the value and then on each line; one
# alternation finding the whole lines at once says the same, and regorus compiles each
# expression on every call.
key_pattern := sprintf("(?i)%s", [concat("|", words)])

line_pattern := sprintf("(?m)^.*(?i:%s)[\\t\\f\\r ]*[=:].*$", [concat("|", words)])

data_entries contains [key, value] if {
	entries := object.get(input, "data", {})
	is_object(entries)
	some key, value in entries
	is_string(value)
}

# Keys whose name holds a word.
secret_keys contains key if {
	some [key, _] in data_entries
	regex.match(key_pattern, key)
}

# The left side of an assignment of a word in a value's line (`DB_PASSWORD=abc` gives
# `DB_PASSWORD`), unless the right side is empty or a reference (`${X}`, `$(cmd)`,
# `{{ tpl }}`, quoted or not).
secret_keys contains name if {
	some [_, value] in data_entries
	some line in regex.find_n(line_pattern, value, -1)
	name := assigned_name(line)
}

# Split at the first `:` and at the first `=`. Where both give a name (`token=http://x`),
# upstream's function has two outputs: OPA stops with a conflict error, and upstream logs it
# and reports no KSV109 entry at all. This function stops regorus the same way, and the
# check is reported as failed to evaluate (severity UNKNOWN).
assigned_name(line) := name if {
	some delimiter in [":", "="]
	parts := split(line, delimiter)
	count(parts) > 1
	parts[1] != ""
	not reference(parts[1])
	name := parts[0]
}

reference(text) if {
	some prefix in ["${", "$(", "{{"]
	startswith(trim_prefix(text, "\""), prefix)
}

# The set prints as OPA prints upstream's (`{"a", "b"}`, sorted, each name quoted; regorus
# quotes as JSON does, OPA as Go does, which differ only for control characters).
deny contains res if {
	k8s.kind == "ConfigMap"
	count(secret_keys) > 0
	res := {"msg": sprintf("%s '%s' in '%s' namespace stores secrets in key(s) or value(s) '%s'", [k8s.kind, k8s.name, k8s.namespace, secret_keys])}
}
