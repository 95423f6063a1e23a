//! Request counters by verb, resource and user agent, served at `GET /_sim/stats` (and reset
//! by `DELETE /_sim/stats`), so benchmarks and tests can measure the API load a client puts
//! on the server, as the API server's `apiserver_request_total` does. The time of every
//! request is kept too, so a client's busiest window can be asked for
//! (`GET /_sim/stats?window=10&agentPrefix=trivy-operator`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, Uri, header};
use serde_json::{Value, json};

use crate::authz::Subject;
use crate::authz::attributes::Attributes;
use crate::http::request::Query;

/// (verb, resource, user agent product) → requests.
type Key = (String, String, String);

/// Counts of the requests served since start (or the last reset).
#[derive(Debug, Default)]
pub struct RequestCounts {
    counts: Mutex<BTreeMap<Key, u64>>,
    timeline: Mutex<Timeline>,
}

/// When each request came, by user agent product: milliseconds since the start or reset.
#[derive(Debug)]
struct Timeline {
    since: Instant,
    times: BTreeMap<String, Vec<u32>>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            times: BTreeMap::new(),
        }
    }
}

/// The most requests from agents whose product starts with `prefix` within any `window`.
fn busiest_window(timeline: &Timeline, prefix: &str, window: Duration) -> usize {
    let mut times: Vec<u32> = timeline
        .times
        .iter()
        .filter(|(agent, _)| agent.starts_with(prefix))
        .flat_map(|(_, t)| t.iter().copied())
        .collect();
    times.sort_unstable();
    let window = u32::try_from(window.as_millis()).unwrap_or(u32::MAX);
    let mut start = 0;
    let mut most = 0;
    for (end, t) in times.iter().enumerate() {
        while times[start] + window <= *t {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

impl RequestCounts {
    /// Counts one request.
    pub fn record(&self, method: &Method, uri: &Uri, headers: &HeaderMap) {
        let anonymous = Subject {
            name: String::new(),
            groups: Vec::new(),
        };
        let attrs =
            Attributes::from_request(&anonymous, method, uri.path(), &Query::parse(uri.query()));
        let resource = if !attrs.resource_request {
            "nonResource".to_owned()
        } else {
            let mut r = if attrs.api_group.is_empty() {
                attrs.resource.clone()
            } else {
                format!("{}/{}", attrs.api_group, attrs.resource)
            };
            if !attrs.subresource.is_empty() {
                r = format!("{r}/{}", attrs.subresource);
            }
            r
        };
        let agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(agent_product)
            .unwrap_or_default();
        {
            let mut timeline = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
            let at = u32::try_from(timeline.since.elapsed().as_millis()).unwrap_or(u32::MAX);
            timeline.times.entry(agent.clone()).or_default().push(at);
        }
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry((attrs.verb, resource, agent)).or_default() += 1;
    }

    /// `{"seconds", "agentPrefix", "max"}`: the most requests from agents whose product starts
    /// with `prefix` within any `window` since the start or reset.
    pub fn window_json(&self, prefix: &str, window: Duration) -> Value {
        let timeline = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
        json!({
            "seconds": window.as_secs_f64(),
            "agentPrefix": prefix,
            "max": busiest_window(&timeline, prefix, window),
        })
    }

    /// Forgets every count.
    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.timeline.lock().unwrap_or_else(|p| p.into_inner()) = Timeline::default();
    }

    /// `{"total": N, "byUserAgent": {agent: N}, "requests": [{verb, resource, userAgent,
    /// count}]}`.
    pub fn to_json(&self) -> Value {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut by_agent: BTreeMap<&str, u64> = BTreeMap::new();
        let mut requests = Vec::with_capacity(counts.len());
        for ((verb, resource, agent), count) in counts.iter() {
            *by_agent.entry(agent.as_str()).or_default() += count;
            requests.push(json!({
                "verb": verb,
                "resource": resource,
                "userAgent": agent,
                "count": count,
            }));
        }
        json!({
            "total": counts.values().sum::<u64>(),
            "byUserAgent": by_agent,
            "requests": requests,
        })
    }
}

/// The product of a user agent (`kubectl/v1.32.0 (linux/amd64)` → `kubectl`).
pub fn agent_product(agent: &str) -> String {
    agent
        .split(['/', ' '])
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_window_counts_only_matching_agents() {
        let mut timeline = Timeline::default();
        timeline.times.insert(
            "trivy-operator-worker".into(),
            vec![0, 100, 9_000, 9_999, 10_000, 25_000],
        );
        timeline
            .times
            .insert("trivy-operator-leader".into(), vec![5_000]);
        timeline.times.insert("kubectl".into(), vec![1; 50]);
        let ten = Duration::from_secs(10);
        // [0, 10 s): 0, 100, 5000, 9000, 9999.
        assert_eq!(busiest_window(&timeline, "trivy-operator", ten), 5);
        assert_eq!(busiest_window(&timeline, "trivy-operator-leader", ten), 1);
        assert_eq!(busiest_window(&timeline, "kubectl", ten), 50);
        assert_eq!(busiest_window(&timeline, "nobody", ten), 0);
    }

    fn get(counts: &RequestCounts, method: Method, uri: &str, agent: &str) {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::USER_AGENT,
            agent.parse().unwrap_or_else(|_| unreachable!()),
        );
        let uri: Uri = uri.parse().unwrap_or_else(|_| unreachable!());
        counts.record(&method, &uri, &headers);
    }

    #[test]
    fn requests_are_counted_by_verb_resource_and_agent() {
        let c = RequestCounts::default();
        let worker = "trivy-operator-worker/0.1.0 (w1)";
        get(
            &c,
            Method::GET,
            "/apis/apps/v1/namespaces/a/replicasets/web",
            worker,
        );
        get(
            &c,
            Method::GET,
            "/apis/apps/v1/namespaces/a/replicasets/web",
            worker,
        );
        get(
            &c,
            Method::GET,
            "/api/v1/pods?watch=true",
            "kubectl/v1.32.0 (linux)",
        );
        get(
            &c,
            Method::PATCH,
            "/apis/aquasecurity.github.io/v1alpha1/namespaces/a/vulnerabilityreports/x",
            worker,
        );
        get(&c, Method::GET, "/api/v1/namespaces/s/pods/p/log", worker);
        let stats = c.to_json();
        assert_eq!(stats["total"], 5);
        assert_eq!(stats["byUserAgent"]["trivy-operator-worker"], 4);
        assert_eq!(stats["byUserAgent"]["kubectl"], 1);
        let rows = stats["requests"].as_array().cloned().unwrap_or_default();
        let find = |verb: &str, resource: &str| {
            rows.iter()
                .find(|r| r["verb"] == verb && r["resource"] == resource)
                .map(|r| r["count"].clone())
        };
        assert_eq!(find("get", "apps/replicasets"), Some(json!(2)));
        assert_eq!(find("watch", "pods"), Some(json!(1)));
        assert_eq!(
            find("patch", "aquasecurity.github.io/vulnerabilityreports"),
            Some(json!(1))
        );
        assert_eq!(find("get", "pods/log"), Some(json!(1)));
        c.reset();
        assert_eq!(c.to_json()["total"], 0);
    }
}
