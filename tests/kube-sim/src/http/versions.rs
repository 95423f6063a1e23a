//! Resources served in more than one API group over one storage, as the API server does:
//! `events.k8s.io/v1` Events are core `v1` Events. Objects are stored in the core form and
//! converted field by field on the way in and out (`regarding` ↔ `involvedObject`, `note`
//! ↔ `message`, `reportingController` ↔ `reportingComponent`, `deprecatedSource` ↔
//! `source`, `deprecated{First,Last}Timestamp` ↔ `{first,last}Timestamp`, `deprecatedCount`
//! ↔ `count`; everything else keeps its name), so both APIs see the same objects, lists and
//! watches, and field selectors of either API work on both.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use crate::store::ResourceInfo;

/// `(events.k8s.io/v1 name, core/v1 name)` of the Event fields that differ.
const EVENT_FIELDS: [(&str, &str); 7] = [
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn is_events_view(info: &ResourceInfo) -> bool {
    info.group == "events.k8s.io" && info.plural == "events"
}

fn renamed(obj: &Value, api_version: &str, from_view: bool) -> Value {
    let Some(fields) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = Map::with_capacity(fields.len());
    for (key, value) in fields {
        let key = EVENT_FIELDS
            .iter()
            .find_map(|(view, core)| {
                let (from, to) = if from_view {
                    (view, core)
                } else {
                    (core, view)
                };
                (key == from).then_some(*to)
            })
            .unwrap_or(key);
        out.insert(key.to_owned(), value.clone());
    }
    out.insert("apiVersion".into(), json!(api_version));
    Value::Object(out)
}

/// The stored object as the requested API serves it.
pub fn to_served<'a>(info: &ResourceInfo, stored: &'a Value) -> Cow<'a, Value> {
    if is_events_view(info) {
        Cow::Owned(renamed(stored, "events.k8s.io/v1", false))
    } else {
        Cow::Borrowed(stored)
    }
}

/// An object of the requested API in its stored form.
pub fn to_stored(info: &ResourceInfo, served: Value) -> Value {
    if is_events_view(info) {
        renamed(&served, "v1", true)
    } else {
        served
    }
}

/// The path in the stored object of a field selector's field for this API.
pub fn stored_field(info: &ResourceInfo, field: &str) -> String {
    // An Event's `source`, in either API, selects by the stored `source.component`.
    if info.plural == "events" && field == "source" {
        return "source.component".to_owned();
    }
    if !is_events_view(info) {
        return field.to_owned();
    }
    if let Some(rest) = field.strip_prefix("regarding.") {
        return format!("involvedObject.{rest}");
    }
    match field {
        "reportingController" => "reportingComponent".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::Registry;

    fn info(group: &str) -> ResourceInfo {
        Registry::with_builtins()
            .by_plural(group, "v1", "events")
            .cloned()
            .unwrap()
    }

    #[test]
    fn events_convert_both_ways_and_other_kinds_pass_through() {
        let view = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "n"},
            "regarding": {"kind": "ConfigMap", "name": "cm"}, "note": "broken",
            "reason": "Invalid", "type": "Warning", "action": "Reading",
            "reportingController": "trivy-operator-leader", "reportingInstance": "l-0",
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "series": {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000000Z"},
        });
        let events = info("events.k8s.io");
        let stored = to_stored(&events, view.clone());
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "cm");
        assert_eq!(stored["message"], "broken");
        assert_eq!(stored["reportingComponent"], "trivy-operator-leader");
        assert_eq!(stored["series"]["count"], 2);
        assert!(stored.get("regarding").is_none() && stored.get("note").is_none());
        assert_eq!(*to_served(&events, &stored), view);
        // The core API serves the stored form as it is.
        assert_eq!(*to_served(&info(""), &stored), stored);
        assert_eq!(
            stored_field(&events, "regarding.name"),
            "involvedObject.name"
        );
        assert_eq!(
            stored_field(&events, "reportingController"),
            "reportingComponent"
        );
        assert_eq!(stored_field(&info(""), "reason"), "reason");
        assert_eq!(stored_field(&info(""), "source"), "source.component");
        assert_eq!(stored_field(&events, "source"), "source.component");
    }
}
