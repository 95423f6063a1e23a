# A stand-in for the `lib.result` library upstream ships with its built-in policies, so
# custom policies written after the upstream tutorial (`import data.lib.result`,
# `res := result.new(msg, cause)`) compile and report their message. It is loaded only
# when the ConfigMap does not provide a `lib.result` package of its own.
package lib.result

# A deny result: the message, plus the cause (the part of the input at fault) when it
# is an object, kept for reference.
new(message, cause) := {"msg": message, "cause": cause} if {
	is_object(cause)
} else := {"msg": message}
