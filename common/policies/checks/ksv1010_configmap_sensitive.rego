package builtin.trivyrs.KSV01010

import data.builtin.trivyrs.lib.k8s

__rego_metadata__ := {
	"id": "KSV01010",
	"avd_id": "AVD-KSV-01010",
	"title": "ConfigMap with sensitive content",
	"short_code": "configMap-with-sensitive",
	"severity": "MEDIUM",
	"type": "Kubernetes Security Check",
	"description": "Storing sensitive content such as usernames and email addresses in configMaps is unsafe",
	"recommended_actions": "Remove sensitive content from configMap data value",
	"url": "https://avd.aquasec.com/misconfig/ksv01010",
}

__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [{"kind": "ConfigMap"}]}]}

# Upstream's expressions (Go regexp) in the Rust regex syntax of regorus: `\d`, `\s` and
# `\b` are ASCII in Go and Unicode in Rust, so they are spelled out as ASCII here.
email := "[a-zA-Z0-9_.-]+@(\\[[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.|([a-zA-Z0-9-]+\\.)+)([a-zA-Z]{2,4}|[0-9]{1,3})"

# Something shaped like an account number, after a character that is not a `.`.
account := "(?-u:\\b)[A-Z]{2}[0-9]{2} ?[0-9]{4} ?[0-9]{4} ?[0-9]{4} ?[0-9]{4} ?[0-9]{0,2}(?-u:\\b)"

# An IBAN (https://www.iban.com/structure), or a whole field of 3 to 20 capitals, digits or
# `<` (a passport's machine-readable zone). The latter holds for any short upper-case or
# numeric value ("INFO", "8080"): upstream's verdict, kept.
iban_or_passport := "[A-Z]{2}[ -]?[0-9]{2}[ -]?([A-Z0-9]{3,5}[ -]?){2,7}[A-Z0-9]{1,3}|^[A-Z0-9<]{3,20}$"

# Words of a sensitive assignment (`username: x`), and words anywhere.
assigned := "username|email|key|phone|iban"

anywhere := "sha1|md5"

# Upstream tries its expressions one by one, on the value and then on each line; one
# alternation finding the whole lines at once says the same (blanks and the character
# before an account number stay within the line), and regorus compiles each expression on
# every call.
line_pattern := sprintf("(?m)^.*((?i:%s)[\\t\\f\\r ]*[=:]|(?i:%s)|%s|[^.\\n]%s).*$", [assigned, anywhere, email, account])

key_pattern := sprintf("(?i:%s|%s)|%s|[^.]%s", [assigned, anywhere, email, account])

field_pattern := sprintf("%s|%s", [email, iban_or_passport])

data_entries contains [key, value] if {
	entries := object.get(input, "data", {})
	is_object(entries)
	some key, value in entries
	is_string(value)
}

# A line that matches: the text before its first `:`, else before its first `=`; nothing
# when it has neither.
sensitive contains name if {
	some [_, value] in data_entries
	some line in regex.find_n(line_pattern, value, -1)
	name := left_side(line)
}

left_side(line) := parts[0] if {
	parts := split(line, ":")
	count(parts) > 1
} else := parts[0] if {
	parts := split(line, "=")
	count(parts) > 1
}

# A key that matches.
sensitive contains key if {
	some [key, _] in data_entries
	regex.match(key_pattern, key)
}

# An e-mail address, IBAN or passport number in a value: the key. Upstream reads only one
# field of each line, with the line's index: field n (split at `:`) of line n.
sensitive contains key if {
	some [key, value] in data_entries
	some n, line in split(value, "\n")
	fields := split(line, ":")
	n < count(fields)
	regex.match(field_pattern, fields[n])
}

# The set prints as OPA prints upstream's (`{"a", "b"}`, sorted, each name quoted; regorus
# quotes as JSON does, OPA as Go does, which differ only for control characters).
deny contains res if {
	k8s.kind == "ConfigMap"
	count(sensitive) > 0
	res := {"msg": sprintf("%s '%s' in '%s' namespace stores sensitive contents in key(s) or value(s) '%s'", [k8s.kind, k8s.name, k8s.namespace, sensitive])}
}
