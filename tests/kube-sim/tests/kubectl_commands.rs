//! The real kubectl (1.32) against kube-sim: generator commands (`kubectl create ...`,
//! `kubectl run`, which send protobuf bodies) and their errors, and bearer tokens.
#![allow(clippy::unwrap_used)]

mod sim_support;

use sim_support::{raw_get, start, start_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_commands_and_errors() {
    let sim = start().await;
    sim.kubectl(&["create", "ns", "k6"]).await;
    sim.kubectl(&[
        "create",
        "job",
        "hello",
        "-n",
        "k6",
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "echo hi",
    ])
    .await;
    let cmd = sim
        .kubectl(&[
            "get",
            "job",
            "hello",
            "-n",
            "k6",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].command}",
        ])
        .await;
    assert_eq!(cmd, r#"["sh","-c","echo hi"]"#);
    sim.kubectl(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        "k6",
        "--from-literal=k=v4lue",
    ])
    .await;
    let data = sim
        .kubectl(&["get", "secret", "s", "-n", "k6", "-o", "jsonpath={.data.k}"])
        .await;
    assert_eq!(data, "djRsdWU=");
    let dup = sim
        .kubectl_in(&["create", "secret", "generic", "s", "-n", "k6"], None)
        .await;
    assert!(
        !dup.ok && dup.stderr.contains("already exists"),
        "{}",
        dup.stderr
    );
    let bad = sim
        .kubectl_in(&["create", "configmap", "Bad_Name", "-n", "k6"], None)
        .await;
    assert!(!bad.ok && bad.stderr.contains("Invalid"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_is_required_when_configured() {
    let sim = start_with(|c| c.token = Some("s3cret".into())).await;
    // kube-rs sends the token from the written kubeconfig. (kubectl does not send
    // credentials over plain HTTP at all, so it gets 401 here, as from a real server.)
    let client = sim.client().await;
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    let names: Vec<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"default".to_owned()), "{names:?}");
    let denied = sim.kubectl_in(&["get", "ns"], None).await;
    assert!(
        !denied.ok && denied.stderr.contains("provide credentials"),
        "{}",
        denied.stderr
    );
    let (code, body) = raw_get(sim.handle.addr, "/api/v1/namespaces", &[]).await;
    assert_eq!(code, 401);
    assert!(body.contains("\"reason\":\"Unauthorized\""), "{body}");
    let bearer = [("Authorization", "Bearer s3cret")];
    let (code, _) = raw_get(sim.handle.addr, "/api/v1/namespaces", &bearer).await;
    assert_eq!(code, 200);
}

/// `kubectl create token` issues a ServiceAccount token bound to a Pod; a TokenReview
/// (created with kubectl and with kube-rs) authenticates it for its audience only, names
/// the Pod, and stops authenticating it once the Pod is gone — as the API server does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_tokens_are_issued_and_reviewed() {
    use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
    let sim = start().await;
    sim.kubectl(&["create", "ns", "k7"]).await;
    sim.kubectl(&["create", "sa", "worker", "-n", "k7"]).await;
    sim.kubectl(&["run", "w-0", "-n", "k7", "--image=busybox"])
        .await;
    let bound = [
        "create",
        "token",
        "worker",
        "-n",
        "k7",
        "--audience=trivy-operator-rs",
        "--bound-object-kind=Pod",
        "--bound-object-name=w-0",
    ];
    let token = sim.kubectl(&bound).await.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT-shaped token: {token}");

    let refused = |args: &'static [&'static str]| {
        let sim = &sim;
        async move {
            let out = sim.kubectl_in(args, None).await;
            assert!(!out.ok, "{args:?} must fail");
            out.stderr
        }
    };
    let short = refused(&["create", "token", "worker", "-n", "k7", "--duration=1m"]).await;
    assert!(
        short.contains("may not specify a duration less than 10 minutes"),
        "{short}"
    );
    let no_pod = refused(&[
        "create",
        "token",
        "worker",
        "-n",
        "k7",
        "--bound-object-kind=Pod",
        "--bound-object-name=nope",
    ])
    .await;
    assert!(no_pod.contains(r#"pods "nope" not found"#), "{no_pod}");
    let no_sa = refused(&["create", "token", "nobody", "-n", "k7"]).await;
    assert!(
        no_sa.contains(r#"serviceaccounts "nobody" not found"#),
        "{no_sa}"
    );

    let review_yaml = |audience: &str| {
        format!(
            "apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec:\n  token: {token}\n  audiences: [{audience}]\n"
        )
    };
    let out = sim
        .kubectl_in(
            &["create", "-f", "-", "-o", "jsonpath={.status.authenticated} {.status.user.username} {.status.user.extra.authentication\\.kubernetes\\.io/pod-name[0]}"],
            Some(&review_yaml("trivy-operator-rs")),
        )
        .await;
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(out.stdout, "true system:serviceaccount:k7:worker w-0");

    let api: kube::Api<TokenReview> = kube::Api::all(sim.client().await);
    let review = |audiences: Vec<String>| {
        let api = api.clone();
        let token = token.clone();
        async move {
            let tr = TokenReview {
                spec: TokenReviewSpec {
                    token: Some(token),
                    audiences: Some(audiences),
                },
                ..Default::default()
            };
            api.create(&Default::default(), &tr)
                .await
                .unwrap()
                .status
                .unwrap()
        }
    };
    let other = review(vec!["someone-else".into()]).await;
    assert_eq!(other.authenticated, None);
    assert!(other.error.unwrap().contains("audiences"));
    // Without audiences the API server's own is meant: this token is not for it.
    assert_eq!(review(vec![]).await.authenticated, None);

    sim.kubectl(&["delete", "pod", "w-0", "-n", "k7", "--wait=false"])
        .await;
    let gone = review(vec!["trivy-operator-rs".into()]).await;
    assert_eq!(
        gone.authenticated, None,
        "a token outlives its Pod: {gone:?}"
    );

    let get = sim.kubectl_in(&["get", "tokenreviews"], None).await;
    assert!(
        !get.ok && get.stderr.contains("MethodNotAllowed"),
        "{}",
        get.stderr
    );
}
