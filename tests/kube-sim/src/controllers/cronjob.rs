//! The CronJob controller: creates the Job of the most recent missed schedule time (named
//! `<cronjob>-<scheduled minutes since the epoch>`, owned by the CronJob, annotated with
//! `batch.kubernetes.io/cronjob-scheduled-timestamp`), unless suspended; keeps
//! `status.lastScheduleTime`, `status.active` and `lastSuccessfulTime`, and deletes finished
//! Jobs beyond `successfulJobsHistoryLimit` (3) / `failedJobsHistoryLimit` (1).
//! `concurrencyPolicy` is treated as `Allow`; schedules are evaluated in UTC.
//!
//! Tests need not wait for the clock: [`trigger_now`] creates the Job for the current minute.

use serde_json::{Value, json};

use super::cache::ObjRef;
use super::manager::Ctx;
use super::util::{controller_ref, deleting, int, key_of, string_map};
use crate::store::{GroupResource, PropagationPolicy, Store, StoreError, WriteOptions, meta};

/// A parsed 5-field cron schedule (minute hour day-of-month month day-of-week).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    fields: [Vec<bool>; 5],
    dom_star: bool,
    dow_star: bool,
}

const RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];

impl Schedule {
    /// Parses `*`, `*/n`, `a-b`, `a-b/n`, lists, and the `@hourly`-style macros.
    pub fn parse(text: &str) -> Option<Schedule> {
        let text = match text.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            t => t,
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return None;
        }
        let mut fields: [Vec<bool>; 5] = Default::default();
        for (i, part) in parts.iter().enumerate() {
            fields[i] = parse_field(part, RANGES[i])?;
        }
        // Day-of-week 7 is Sunday too.
        Some(Schedule {
            fields,
            dom_star: parts[2] == "*",
            dow_star: parts[4] == "*",
        })
    }

    /// Whether the schedule fires at this minute (UTC).
    pub fn matches(&self, t: jiff::civil::DateTime) -> bool {
        let has = |i: usize, v: i64| {
            usize::try_from(v)
                .ok()
                .and_then(|v| self.fields[i].get(v))
                .copied()
                .unwrap_or(false)
        };
        let dom = has(2, i64::from(t.day()));
        let dow = has(4, i64::from(t.weekday().to_sunday_zero_offset()));
        let day = match (self.dom_star, self.dow_star) {
            (false, false) => dom || dow,
            _ => dom && dow,
        };
        has(0, i64::from(t.minute()))
            && has(1, i64::from(t.hour()))
            && has(3, i64::from(t.month()))
            && day
    }

    /// The latest firing minute in `(after, until]` (epoch minutes), searching at most a week.
    pub fn latest_between(&self, after: i64, until: i64) -> Option<i64> {
        let floor = after.max(until - 7 * 24 * 60);
        (floor + 1..=until).rev().find(|m| {
            jiff::Timestamp::from_second(m * 60)
                .is_ok_and(|ts| self.matches(ts.to_zoned(jiff::tz::TimeZone::UTC).datetime()))
        })
    }
}

fn parse_field(part: &str, (lo, hi): (u32, u32)) -> Option<Vec<bool>> {
    let mut set = vec![false; hi as usize + 2];
    for item in part.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (a, b) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let v: u32 = r.parse().ok()?;
                    (v, if item.contains('/') { hi } else { v })
                }
            },
        };
        let max = if hi == 6 { 7 } else { hi };
        if a < lo || b > max || a > b {
            return None;
        }
        for v in (a..=b).step_by(step as usize) {
            let v = if hi == 6 && v == 7 { 0 } else { v };
            set[v as usize] = true;
        }
    }
    Some(set)
}

fn jobs() -> GroupResource {
    GroupResource::new("batch", "jobs")
}

fn epoch_minutes(rfc3339: &str) -> Option<i64> {
    rfc3339
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second().div_euclid(60))
}

/// The Job a CronJob creates for `minute` (epoch minutes).
pub fn job_for(cronjob: &Value, minute: i64) -> Value {
    let template = cronjob
        .pointer("/spec/jobTemplate")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let scheduled = jiff::Timestamp::from_second(minute * 60)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let mut annotations = string_map(&template, "/metadata/annotations");
    annotations.insert(
        "batch.kubernetes.io/cronjob-scheduled-timestamp".into(),
        json!(scheduled),
    );
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": format!("{}-{minute}", meta::name(cronjob)),
            "namespace": meta::namespace(cronjob),
            "labels": string_map(&template, "/metadata/labels"),
            "annotations": annotations,
            "ownerReferences": [controller_ref(cronjob)],
        },
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

/// Creates the CronJob's Job for the current minute now (a test knob; like the schedule
/// firing). Returns the Job.
pub fn trigger_now(
    store: &Store,
    namespace: &str,
    name: &str,
) -> Result<std::sync::Arc<Value>, StoreError> {
    let cj = store.get(&GroupResource::new("batch", "cronjobs"), namespace, name)?;
    let minute = jiff::Timestamp::now().as_second().div_euclid(60);
    store.create_opts(&jobs(), job_for(&cj, minute), &WriteOptions::default())
}

/// Reconciles one CronJob.
pub fn reconcile(ctx: &mut Ctx, key: &ObjRef) {
    let Some(cj) = ctx.cache.get(key).cloned() else {
        return;
    };
    if deleting(&cj) {
        return;
    }
    let uid = meta::meta_str(&cj, "uid").to_string();
    let mut owned = ctx.cache.controlled(&uid, &jobs());
    let now_min = jiff::Timestamp::now().as_second().div_euclid(60);
    let last = cj
        .pointer("/status/lastScheduleTime")
        .and_then(Value::as_str)
        .and_then(epoch_minutes);
    let created = epoch_minutes(meta::meta_str(&cj, "creationTimestamp")).unwrap_or(now_min);
    let suspended = cj
        .pointer("/spec/suspend")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let schedule = cj
        .pointer("/spec/schedule")
        .and_then(Value::as_str)
        .and_then(Schedule::parse);
    let mut last_schedule = last;
    let due = schedule
        .filter(|_| !suspended)
        .and_then(|s| s.latest_between(last.unwrap_or(created), now_min));
    if let Some(minute) = due {
        let name = format!("{}-{minute}", key.2);
        if !owned.iter().any(|j| meta::name(j) == name)
            && let Some(job) = ctx.create(&jobs(), job_for(&cj, minute))
        {
            owned.push(job);
        }
        last_schedule = Some(minute);
    }
    let finished = |j: &Value, t: &str| {
        j.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
    };
    for (t, limit) in [
        ("Complete", int(&cj, "/spec/successfulJobsHistoryLimit", 3)),
        ("Failed", int(&cj, "/spec/failedJobsHistoryLimit", 1)),
    ] {
        let mut done: Vec<_> = owned.iter().filter(|j| finished(j, t)).cloned().collect();
        done.sort_by(|a, b| {
            meta::meta_str(a, "creationTimestamp")
                .cmp(meta::meta_str(b, "creationTimestamp"))
                .then(meta::name(a).cmp(meta::name(b)))
        });
        let excess = done.len().saturating_sub(limit.max(0) as usize);
        for j in done.iter().take(excess) {
            ctx.delete(
                &key_of(&jobs(), j),
                PropagationPolicy::Background,
                Some(meta::meta_str(j, "uid")),
            );
            owned.retain(|o| meta::meta_str(o, "uid") != meta::meta_str(j, "uid"));
        }
    }
    let active: Vec<Value> = owned
        .iter()
        .filter(|j| !finished(j, "Complete") && !finished(j, "Failed") && !deleting(j))
        .map(|j| {
            json!({"apiVersion": "batch/v1", "kind": "Job", "name": meta::name(j),
                        "namespace": meta::namespace(j), "uid": meta::meta_str(j, "uid"),
                        "resourceVersion": meta::meta_str(j, "resourceVersion")})
        })
        .collect();
    let mut status = cj
        .get("status")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    if active.is_empty() {
        status.as_object_mut().map(|s| s.remove("active"));
    } else {
        status["active"] = Value::Array(active);
    }
    if let Some(m) = last_schedule {
        status["lastScheduleTime"] = json!(
            jiff::Timestamp::from_second(m * 60)
                .map(|t| t.to_string())
                .unwrap_or_default()
        );
    }
    if let Some(t) = owned
        .iter()
        .filter(|j| finished(j, "Complete"))
        .filter_map(|j| j.pointer("/status/completionTime").and_then(Value::as_str))
        .max()
    {
        status["lastSuccessfulTime"] = json!(t);
    }
    if cj.get("status") != Some(&status) {
        ctx.modify(key, true, |o| o["status"] = status.clone());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> jiff::civil::DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_matches() {
        let s = Schedule::parse("*/15 9-17 * * 1-5").unwrap();
        assert!(s.matches(at("2026-11-27T09:30:00"))); // a Friday
        assert!(!s.matches(at("2026-11-27T09:31:00")));
        assert!(!s.matches(at("2026-11-28T09:30:00"))); // Saturday
        let s = Schedule::parse("0,30 0 1 * *").unwrap();
        assert!(s.matches(at("2026-12-01T00:30:00")));
        assert!(!s.matches(at("2026-12-02T00:30:00")));
        assert!(
            Schedule::parse("@hourly")
                .unwrap()
                .matches(at("2026-12-02T05:00:00"))
        );
        assert!(
            Schedule::parse("0 0 * * 7")
                .unwrap()
                .matches(at("2026-11-29T00:00:00"))
        );
        for bad in [
            "* * * *",
            "60 * * * *",
            "*/0 * * * *",
            "a * * * *",
            "5-1 * * * *",
        ] {
            assert!(Schedule::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn latest_between_finds_the_last_tick() {
        let s = Schedule::parse("*/5 * * * *").unwrap();
        assert_eq!(s.latest_between(100, 112), Some(110));
        assert_eq!(s.latest_between(110, 114), None);
    }
}
