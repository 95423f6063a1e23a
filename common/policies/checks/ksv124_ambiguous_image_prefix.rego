package builtin.trivyrs.KSV0124

import data.builtin.trivyrs.lib.k8s

# Upstream's ID is spelled so, and it gives no remediation.
__rego_metadata__ := {
	"id": "KSV-0124",
	"avd_id": "AVD-KSV-0124",
	"title": "Gatekeeper repo reference is ambiguously open-ended",
	"short_code": "repo-ambiguous-prefix",
	"severity": "HIGH",
	"type": "Kubernetes Security Check",
	"description": "A Gatekeeper policy that references image repositories for prefix-matching is using open-ended and ambiguous pattern, and can potentially match unintended repositories.",
	"recommended_actions": "",
	"url": "https://avd.aquasec.com/misconfig/ksv0124",
}

# Only a Gatekeeper K8sAllowedRepos constraint can fail, and the operator audits no such
# object: on the kinds it audits the check always passes, as upstream's does.
allowed_repos_constraint if {
	input.apiVersion == "constraints.gatekeeper.sh/v1beta1"
	k8s.kind == "K8sAllowedRepos"
}

repos contains repo if {
	allowed_repos_constraint
	some repo in object.get(input, ["spec", "parameters", "repos"], [])
	is_string(repo)
}

# A bare name ("ubuntu", "myregistry.io") is a prefix of "ubuntu.attacker.com/evil" ...
open_ended(repo) if {
	not contains(repo, "/")
	not contains(repo, ":")
}

# ... and so is a Docker Hub user without the trailing slash ("docker.io/ubuntu").
open_ended(repo) if {
	parts := split(repo, "/")
	parts[0] == "docker.io"
	count(parts) <= 2
}

deny contains res if {
	some repo in repos
	open_ended(repo)
	res := {"msg": "open-ended repository reference in prefix match"}
}
