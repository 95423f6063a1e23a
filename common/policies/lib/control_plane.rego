# Shared helpers of the built-in control-plane checks (KCV0001-KCV0047) of trivy-operator-rs.
#
# `input` is a workload object: a Pod (a control-plane component's static Pod, as the kubelet
# mirrors it), or a controller or CronJob with a pod template. The checks read the command
# line of its containers and init containers: `command`, whose first element is the
# component's binary, and `args`.
#
# A flag "pattern" is a regular expression found anywhere in one element of the command line,
# as upstream's CIS checks read flags: `--secure-port=0` is also found in `--secure-port=0443`.
package builtin.trivycp.lib

pod_spec := input.spec if input.kind == "Pod"

pod_spec := input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

pod_spec := input.spec.template.spec if not input.kind in {"Pod", "CronJob"}

# Every container and init container of the pod spec.
containers contains c if {
	some field in ["initContainers", "containers"]
	some c in pod_spec[field]
}

# Whether container `c` runs `binary` (its command's first element, with or without a path).
runs(c, binary) if regex.match(concat("", ["^(.*/)?", binary, "$"]), c.command[0])

# Whether an element of `c`'s `field` (`command` or `args`) has `pattern`.
flag_in(c, field, pattern) if {
	some element in c[field]
	regex.match(pattern, element)
}

# Whether the command or the args have `pattern`.
flag_in_any(c, pattern) if flag_in(c, "command", pattern)

flag_in_any(c, pattern) if flag_in(c, "args", pattern)

# Whether every pattern is in the command, or every pattern is in the args.
flags_together(c, patterns) if {
	some field in ["command", "args"]
	every pattern in patterns {
		flag_in(c, field, pattern)
	}
}

# The values of `--flag=<value>` in the elements of `c`'s `field` (the first in each element).
values(c, field, flag) := {value |
	some element in c[field]
	found := regex.find_all_string_submatch_n(concat("", [flag, `=([^\s]+)`]), element, -1)
	value := found[0][1]
}

# The values of `--flag=<value>` in the command and the args.
values_any(c, flag) := values(c, "command", flag) | values(c, "args", flag)

# Whether a value of `flag` in `c`'s `field` has `pattern` (e.g. a plugin in a list).
value_in(c, field, flag, pattern) if {
	some value in values(c, field, flag)
	regex.match(pattern, value)
}

# Whether a value of `flag` in the command or the args has `pattern`.
value_in_any(c, flag, pattern) if {
	some value in values_any(c, flag)
	regex.match(pattern, value)
}
