# Shared helpers of the built-in RBAC checks of trivy-operator-rs.
#
# `input` is a Role or a ClusterRole. A check reads its `rules` one at a time (`r`), or in
# ordered pairs (`a` before `b`) where a permission takes two rules. Values are compared
# exactly: `*` is only a wildcard where a check names it.
package builtin.trivyrbac.lib

kind := input.kind

name := input.metadata.name

default namespace := "default"

namespace := input.metadata.namespace

# Whether the check applies to the input's kind.
applies(kinds) if input.kind in kinds

# Whether a value of the list `values` (e.g. a rule's resources) is one of `wanted`.
any_in(values, wanted) if {
	some value in values
	value in wanted
}
