# Shared helpers of the built-in node checks (KCV) of trivy-operator-rs.
#
# `input` is the node-collector's NodeInfo document: `kind: NodeInfo`, `type` (`master` or
# `worker`) and `info.<item>.values`, a list of numbers (file modes as their octal digits,
# e.g. 644) and strings. A check fails when a value breaks its rule; an item the collector
# did not report never fails one, and an empty list fails only the checks that say so.
package builtin.trivynode.lib

# Whether a check applies to this node: master-only checks to control-plane nodes, the
# others to every node.
applies(masters_only) if {
	input.kind == "NodeInfo"
	input.type == "master"
}

applies(masters_only) if {
	input.kind == "NodeInfo"
	input.type == "worker"
	masters_only == false
}

values(item) := v if {
	v := input.info[item].values
	is_array(v)
}

# Values order as in OPA: null < boolean < number < string < array < object, so a string
# value is above every limit and below none.
rank(v) := 0 if is_null(v)

rank(v) := 1 if is_boolean(v)

rank(v) := 2 if is_number(v)

rank(v) := 3 if is_string(v)

rank(v) := 4 if is_array(v)

rank(v) := 5 if is_object(v)

above(v, limit) if {
	is_number(v)
	v > limit
}

above(v, limit) if rank(v) > 2

under(v, limit) if {
	is_number(v)
	v < limit
}

under(v, limit) if rank(v) < 2

has_suffix(v, suffix) if {
	is_string(v)
	endswith(v, suffix)
}

# The values of `item` that break each kind of rule.
mode_above(item, limit) := {v | some v in values(item); above(v, limit)}

owner_is_not(item, owner) := {v | some v in values(item); v != owner}

is(item, bad) := {v | some v in values(item); v == bad}

is_not(item, good) := {v | some v in values(item); v != good}

below(item, limit) := {v | some v in values(item); under(v, limit)}

present(item) := {v | some v in values(item)}

suffix_is_not(item, suffix) := {v | some v in values(item); not has_suffix(v, suffix)}

not_one_of(item, allowed) := {v | some v in values(item); not v in allowed}

# The collector reported the item, with no value.
empty(item) if count(values(item)) == 0
