//! The built-ins split into engines by the kinds they apply to.
//!
//! `regorus` does work in proportion to every module an engine holds on each query (it
//! rebuilds the rule prefixes and analyses the query against all modules), so auditing a
//! ReplicaSet in one engine that holds every built-in — workload, node, RBAC and other
//! kinds' checks — pays for all of them, and evaluating the package root evaluates checks
//! that do not apply. A [`Group`] holds the libraries and exactly the built-ins of one package
//! root that apply to the same kinds; a kind's evaluation of that root uses its group only.

use super::{CompiledPolicy, Source, add_source, audited_kinds, new_engine, prepare};
use crate::audit::diagnose::CompileError;

/// Which built-ins of which root one engine holds, and for which kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) root: &'static str,
    /// The kinds for which these are exactly the applicable built-ins of `root`.
    pub(super) kinds: Vec<&'static str>,
    /// Indices of the built-ins (into the compiled policies), in compile order.
    pub(super) members: Vec<usize>,
}

/// One group's compiled engine.
#[derive(Clone)]
pub(super) struct Group {
    pub(super) plan: Plan,
    pub(super) engine: regorus::Engine,
}

/// The groups for `policies`: for every audited kind and built-in root, the built-ins of that
/// root applying to the kind; kinds with the same set share one group. Custom policies are in
/// no group.
pub(super) fn plan(policies: &[CompiledPolicy]) -> Vec<Plan> {
    let mut roots: Vec<&'static str> = Vec::new();
    for root in policies.iter().filter_map(|p| p.origin.root()) {
        if !roots.contains(&root) {
            roots.push(root);
        }
    }
    let mut plans: Vec<Plan> = Vec::new();
    for kind in audited_kinds() {
        for &root in &roots {
            let members: Vec<usize> = policies
                .iter()
                .enumerate()
                .filter(|(_, p)| p.origin.root() == Some(root) && p.applies_to(kind))
                .map(|(i, _)| i)
                .collect();
            if members.is_empty() {
                continue;
            }
            match plans
                .iter_mut()
                .find(|p| p.root == root && p.members == members)
            {
                Some(existing) => existing.kinds.push(kind),
                None => plans.push(Plan {
                    root,
                    kinds: vec![kind],
                    members,
                }),
            }
        }
    }
    plans
}

/// Compiles each plan's engine: the libraries it needs, then the plan's built-ins
/// (`sources` are the policies' texts, in the order of the compiled policies).
pub(super) fn build(
    plans: Vec<Plan>,
    libraries: &[Source],
    sources: &[&Source],
) -> Result<Vec<Group>, CompileError> {
    plans
        .into_iter()
        .map(|plan| {
            let members: Vec<&Source> = plan
                .members
                .iter()
                .filter_map(|&m| sources.get(m).copied())
                .collect();
            let engine = compile(&needed_libraries(libraries, &members), &members)
                .or_else(|_| compile(&libraries.iter().collect::<Vec<_>>(), &members))
                .map_err(|message| CompileError::Compile {
                    key: format!(
                        "the built-ins of {} for {}",
                        plan.root,
                        plan.kinds.join(", ")
                    ),
                    message,
                })?;
            Ok(Group { plan, engine })
        })
        .collect()
}

/// A prepared engine holding `libraries` and then `policies`.
fn compile(libraries: &[&Source], policies: &[&Source]) -> Result<regorus::Engine, String> {
    let mut engine = new_engine();
    for source in libraries.iter().chain(policies) {
        add_source(&mut engine, source).map_err(|e| e.to_string())?;
    }
    prepare(&mut engine)?;
    Ok(engine)
}

/// The libraries a group of built-ins needs: every library the ConfigMap gives (a built-in
/// may read its data, e.g. KSV0125's trusted registries), and each built-in library whose
/// package the group's texts, or a library already needed, name. Most groups need one
/// library of the six, and each copy costs memory in every worker.
fn needed_libraries<'s, 'a>(
    libraries: &'s [Source<'a>],
    members: &[&Source],
) -> Vec<&'s Source<'a>> {
    let mut needed: Vec<bool> = libraries.iter().map(|l| !l.builtin).collect();
    loop {
        let mut added = false;
        for i in 0..libraries.len() {
            if needed[i] {
                continue;
            }
            let named = match package_of(libraries[i].rego) {
                None => true,
                Some(package) => members
                    .iter()
                    .map(|m| m.rego)
                    .chain(
                        libraries
                            .iter()
                            .zip(&needed)
                            .filter(|(_, n)| **n)
                            .map(|(l, _)| l.rego),
                    )
                    .any(|text| text.contains(&package)),
            };
            if named {
                needed[i] = true;
                added = true;
            }
        }
        if !added {
            break;
        }
    }
    libraries
        .iter()
        .zip(needed)
        .filter(|(_, n)| *n)
        .map(|(l, _)| l)
        .collect()
}

/// `data.<package>` of a Rego text (its first `package` line).
fn package_of(rego: &str) -> Option<String> {
    let line = rego
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("package "))?;
    let name = line.strip_prefix("package ")?.split_whitespace().next()?;
    Some(format!("data.{name}"))
}

/// The group evaluating `root` for `kind`, if any built-in of that root applies to it.
pub(super) fn find<'a>(groups: &'a [Group], kind: &str, root: &str) -> Option<&'a Group> {
    groups
        .iter()
        .find(|g| g.plan.root == root && g.plan.kinds.contains(&kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::PolicyEngine;
    use crate::policy_config::{NODE_KIND, PolicyConfig};

    fn builtins() -> PolicyEngine {
        PolicyEngine::compile(&PolicyConfig::default(), true).expect("built-ins compile")
    }

    #[test]
    fn every_applicable_builtin_is_in_exactly_the_group_of_its_kind_and_root() {
        let engine = builtins();
        let plans = plan(&engine.policies);
        for kind in audited_kinds() {
            for (i, policy) in engine.policies.iter().enumerate() {
                let Some(root) = policy.origin.root() else {
                    continue;
                };
                let holding: Vec<&Plan> = plans
                    .iter()
                    .filter(|p| p.root == root && p.kinds.contains(&kind))
                    .collect();
                assert!(holding.len() <= 1, "{kind} has two groups of {root}");
                let member = holding.first().is_some_and(|p| p.members.contains(&i));
                assert_eq!(member, policy.applies_to(kind), "{kind}: {}", policy.key);
            }
        }
    }

    #[test]
    fn workload_kinds_share_one_group_and_other_kinds_get_their_own() {
        let engine = builtins();
        let plans = plan(&engine.policies);
        let group_of = |kind: &str| {
            plans
                .iter()
                .position(|p| p.root == super::super::BUILTIN_PACKAGE && p.kinds.contains(&kind))
        };
        let replica_set = group_of("ReplicaSet").expect("a workload group");
        for kind in [
            "Pod",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "CronJob",
            "Deployment",
        ] {
            assert_eq!(group_of(kind), Some(replica_set), "{kind}");
        }
        let service = group_of("Service").expect("a Service group");
        assert_ne!(service, replica_set);
        assert!(plans[service].members.len() < plans[replica_set].members.len());
        // The node checks are a root of their own, for nodes only.
        let node: Vec<&Plan> = plans
            .iter()
            .filter(|p| p.root == super::super::NODE_PACKAGE)
            .collect();
        assert_eq!(node.len(), 1);
        assert_eq!(node[0].kinds, vec![NODE_KIND]);
    }

    #[test]
    fn a_group_gets_the_libraries_its_texts_name_and_every_configmap_library() {
        let source = |key: &str, rego: &'static str, builtin: bool| Source {
            key: key.to_owned(),
            rego,
            builtin,
        };
        let libraries = [
            source(
                "lib/a",
                "package builtin.a.lib\nimport data.builtin.b.lib\n",
                true,
            ),
            source("lib/b", "# the b library\npackage builtin.b.lib\n", true),
            source("lib/c", "package builtin.c.lib\n", true),
            source("library.user.rego", "package user\n", false),
        ];
        let check = source(
            "checks/x",
            "package builtin.a.x\nimport data.builtin.a.lib\n",
            true,
        );
        let keys = |needed: Vec<&Source>| -> Vec<String> {
            needed.iter().map(|s| s.key.clone()).collect()
        };
        assert_eq!(
            keys(needed_libraries(&libraries, &[&check])),
            ["lib/a", "lib/b", "library.user.rego"],
            "a named library, the one it imports, and the user's"
        );
        assert_eq!(
            keys(needed_libraries(&libraries, &[])),
            ["library.user.rego"]
        );
        assert_eq!(
            package_of("# c\n  package a.b  \n").as_deref(),
            Some("data.a.b")
        );
        assert_eq!(package_of("no package"), None);
    }

    #[test]
    fn custom_policies_are_in_no_group() {
        let rego = "package custom\n__rego_metadata__ := {\"id\": \"C1\"}\n\
                    deny[msg] { input.kind == \"Nothing\"; msg := \"x\" }\n";
        let data = [("policy.custom.rego", rego), ("policy.custom.kinds", "*")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let config = PolicyConfig::from_data(&data).expect("config");
        let engine = PolicyEngine::compile(&config, true).expect("compiles");
        let custom = engine
            .policies
            .iter()
            .position(|p| p.origin.root().is_none())
            .expect("the custom policy");
        assert!(
            plan(&engine.policies)
                .iter()
                .all(|p| !p.members.contains(&custom))
        );
    }
}
