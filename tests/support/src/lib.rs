//! What the workspace's test binaries share (each crate's own set-up stays beside its
//! tests): waiting for a condition — poll until it holds or a generous deadline passes,
//! never sleep-and-hope — and a kubeconfig for a cluster that is not there.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// Polls `check` every `interval` until it returns `Some`; panics naming `what` when
/// `deadline` passes first.
pub async fn eventually<T, F, Fut>(
    what: &str,
    deadline: Duration,
    interval: Duration,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(interval).await;
    }
}

/// A kubeconfig (in a fresh directory named after `test`) for an API server at a loopback
/// port nothing listens on, and that server's URL: for checking how a program fails
/// without a cluster.
pub fn unreachable_kubeconfig(test: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    // Bound and released at once: nothing listens there afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let server = format!("http://127.0.0.1:{port}");
    let kubeconfig = dir.join("kubeconfig");
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: unreachable\n  cluster:\n    server: {server}\ncontexts:\n- name: unreachable\n  context:\n    cluster: unreachable\n    user: nobody\nusers:\n- name: nobody\n  user: {{}}\ncurrent-context: unreachable\n"
    );
    std::fs::write(&kubeconfig, yaml).expect("write the kubeconfig");
    (kubeconfig, server)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_condition_is_polled_until_it_holds() {
        let mut n = 0;
        let got = eventually(
            "the third poll",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                n += 1;
                let now = n;
                async move { (now >= 3).then_some(now) }
            },
        )
        .await;
        assert_eq!(got, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after")]
    async fn a_condition_that_never_holds_fails_naming_it() {
        eventually(
            "never",
            Duration::from_millis(20),
            Duration::from_millis(5),
            || async { None::<()> },
        )
        .await;
    }

    #[test]
    fn nothing_answers_at_the_unreachable_server() {
        let (kubeconfig, server) = unreachable_kubeconfig("test-support");
        assert!(
            std::fs::read_to_string(kubeconfig)
                .unwrap()
                .contains(&server)
        );
        let addr = server.trim_start_matches("http://");
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
