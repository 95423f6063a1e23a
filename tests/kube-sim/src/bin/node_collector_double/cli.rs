//! The node-collector command line, as far as the double needs it: `node-collector k8s
//! --node <name> [flags]`. Every flag of the real collector takes a value (`--node-config`,
//! `--node-commands`, `--kubelet-config-mapping`, `--kubelet-config`, `-o`, …), as
//! `--flag value` or `--flag=value`; all but `--node`/`-n` are ignored, except that, like
//! collector 0.3, it has nothing to collect without `--node-commands` and `--node-config`
//! ("spec not found").

/// What to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The node (`--node`).
    pub node: String,
}

/// A command line the real collector would reject or that the double cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No subcommand.
    #[error("a subcommand is required: node-collector k8s --node <name>")]
    NoSubcommand,
    /// Not `k8s`.
    #[error("unknown command \"{0}\" for \"node-collector\"")]
    UnknownCommand(String),
    /// A flag at the end, without its value.
    #[error("flag needs an argument: {0}")]
    MissingValue(String),
    /// No `--node`.
    #[error("node name is required: pass --node <name>")]
    NoNode,
    /// A name that cannot be a node's.
    #[error("invalid node name \"{0}\"")]
    InvalidNode(String),
    /// No `--node-commands` or `--node-config`: collector 0.3 has no item list of its own.
    #[error("spec not found")]
    SpecNotFound,
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Invocation, Error> {
    let mut subcommand = None;
    let mut node = None;
    let (mut commands, mut config) = (false, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            if subcommand.is_none() {
                subcommand = Some(arg.clone());
            }
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name, value.to_owned()),
            None => {
                let value = it.next().ok_or_else(|| Error::MissingValue(arg.clone()))?;
                (flag, value.clone())
            }
        };
        match name {
            "node" | "n" => node = Some(value),
            "node-commands" => commands = !value.is_empty(),
            "node-config" => config = !value.is_empty(),
            _ => {}
        }
    }
    match subcommand.as_deref() {
        None => return Err(Error::NoSubcommand),
        Some("k8s") => {}
        Some(other) => return Err(Error::UnknownCommand(other.to_owned())),
    }
    let node = node.filter(|n| !n.is_empty()).ok_or(Error::NoNode)?;
    if node.contains('/') || node.starts_with('.') {
        return Err(Error::InvalidNode(node));
    }
    if !commands || !config {
        return Err(Error::SpecNotFound);
    }
    Ok(Invocation { node })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_operators_command_line_names_the_node() {
        let line = "k8s --node kind-worker --node-config QlpoOTFBWSZT --kubelet-config-mapping \
                    QlpoOTFBWSZT --node-commands QlpoOTFBWSZT";
        assert_eq!(parse(&args(line)).unwrap().node, "kind-worker");
        let spec = "--node-config c --node-commands c";
        assert_eq!(
            parse(&args(&format!("-o json k8s -n=n1 {spec}")))
                .unwrap()
                .node,
            "n1"
        );
        assert_eq!(
            parse(&args(&format!("k8s --node=n2 --output json {spec}")))
                .unwrap()
                .node,
            "n2"
        );
        assert_eq!(
            parse(&args("k8s --node n3 --node-config c")),
            Err(Error::SpecNotFound)
        );
    }

    #[test]
    fn bad_command_lines_are_errors() {
        assert_eq!(parse(&args("k8s --node-config x")), Err(Error::NoNode));
        assert_eq!(parse(&args("--node n1")), Err(Error::NoSubcommand));
        assert_eq!(
            parse(&args("version --node n1")),
            Err(Error::UnknownCommand("version".into()))
        );
        assert_eq!(
            parse(&args("k8s --node")),
            Err(Error::MissingValue("--node".into()))
        );
        assert_eq!(
            parse(&args("k8s --node ../x")),
            Err(Error::InvalidNode("../x".into()))
        );
        assert_eq!(
            Error::UnknownCommand("x".into()).to_string(),
            "unknown command \"x\" for \"node-collector\""
        );
    }
}
