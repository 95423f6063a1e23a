//! The token file (`--token-file`): kube-apiserver's static token CSV,
//! `token,user[,uid[,"group1,group2"]]` per line; blank lines and `#` comments are skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::UserInfo;

/// Errors reading a token file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("reading token file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A line is not `token,user[,uid[,groups]]`.
    #[error("token file line {line}: {problem}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

/// Reads a token file into a token → user map.
pub fn read_token_file(path: &Path) -> Result<BTreeMap<String, UserInfo>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_token_file(&text)
}

/// Parses token file text into a token → user map.
pub fn parse_token_file(text: &str) -> Result<BTreeMap<String, UserInfo>, Error> {
    let mut tokens = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |problem: &str| Error::Parse {
            line: i + 1,
            problem: problem.to_owned(),
        };
        let fields = split_csv(line).ok_or_else(|| err("unterminated quote"))?;
        let (token, user) = match fields.as_slice() {
            [token, user, ..] if fields.len() <= 4 => (token.trim(), user.trim()),
            _ => return Err(err("expected token,user[,uid[,\"group1,group2\"]]")),
        };
        if token.is_empty() || user.is_empty() {
            return Err(err("empty token or user"));
        }
        let groups: Vec<&str> = fields
            .get(3)
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if tokens
            .insert(token.to_owned(), UserInfo::with_groups(user, &groups))
            .is_some()
        {
            return Err(err("duplicate token"));
        }
    }
    Ok(tokens)
}

/// Splits one CSV line, honouring double quotes (`""` inside quotes is a quote).
fn split_csv(line: &str) -> Option<Vec<String>> {
    let (mut fields, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    fields.push(cur);
    (!quoted).then_some(fields)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_users_and_groups() {
        let text = "# operator identities\n\
            t-leader,system:serviceaccount:trivy-system:trivy-operator-leader\n\
            \n\
            t-admin,admin,admin-uid,\"system:masters,ops\"\n\
            t-dev,dev,42\n";
        let tokens = parse_token_file(text).unwrap();
        assert_eq!(tokens.len(), 3);
        let leader = &tokens["t-leader"];
        assert_eq!(
            leader.name,
            "system:serviceaccount:trivy-system:trivy-operator-leader"
        );
        assert_eq!(
            leader.effective_groups(),
            [
                "system:serviceaccounts",
                "system:serviceaccounts:trivy-system",
                "system:authenticated"
            ]
        );
        assert_eq!(tokens["t-admin"].groups, ["system:masters", "ops"]);
        assert_eq!(tokens["t-dev"].effective_groups(), ["system:authenticated"]);
    }

    #[test]
    fn rejects_bad_lines() {
        for bad in [
            "only-a-token\n",
            "t,u,uid,\"g1,g2\n",
            ",user\n",
            "t,u\nt,v\n",
            "t,u,uid,g,extra\n",
        ] {
            let e = parse_token_file(bad).unwrap_err();
            assert!(matches!(e, Error::Parse { .. }), "{bad:?}: {e}");
        }
        let e = parse_token_file("ok,user\nbad\n").unwrap_err();
        assert!(e.to_string().starts_with("token file line 2:"), "{e}");
    }
}
