//! The reports' storage budget: etcd's quota is the cluster's, so the leader keeps the bytes
//! of the operator's reports (from their `bytes` annotations, see
//! [`common::reports::gauge::BYTES`]) under `--report-storage-budget`. At the budget it trips:
//! tasks are sent `summary_only`, so reports keep their summaries and lose their lists until
//! the bytes fall below nine tenths of the budget (the gap keeps it from flapping). Pure.

/// Where the reports stand against the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The reports reached the budget: detail stops.
    Tripped { bytes: u64, budget: u64 },
    /// They fell back below nine tenths of it: detail resumes.
    Recovered { bytes: u64, budget: u64 },
}

/// Reports are written in full again below this many bytes: nine tenths of the budget.
pub fn recovery_below(budget: u64) -> u64 {
    budget / 10 * 9
}

/// The guard's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageGuard {
    /// `None`: no budget.
    budget: Option<u64>,
    over: bool,
    bytes: u64,
}

impl StorageGuard {
    pub fn new(budget: Option<u64>) -> Self {
        Self {
            budget: budget.filter(|b| *b > 0),
            ..Self::default()
        }
    }

    /// Takes the current bytes; returns a change of state, if any.
    pub fn update(&mut self, bytes: u64) -> Option<Change> {
        self.bytes = bytes;
        let budget = self.budget?;
        if !self.over && bytes >= budget {
            self.over = true;
            return Some(Change::Tripped { bytes, budget });
        }
        if self.over && bytes < recovery_below(budget) {
            self.over = false;
            return Some(Change::Recovered { bytes, budget });
        }
        None
    }

    /// Whether reports are written with their summaries only.
    pub fn over(&self) -> bool {
        self.over
    }

    /// (bytes as last seen, budget or 0).
    pub fn usage(&self) -> (u64, u64) {
        (self.bytes, self.budget.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_trips_at_the_budget_and_recovers_below_nine_tenths() {
        let mut g = StorageGuard::new(Some(1000));
        assert_eq!(g.update(500), None);
        assert!(!g.over());
        assert_eq!(
            g.update(1000),
            Some(Change::Tripped {
                bytes: 1000,
                budget: 1000
            })
        );
        assert!(g.over());
        assert_eq!(g.update(1200), None);
        assert_eq!(g.update(950), None, "still over: no flapping");
        assert!(g.over());
        assert_eq!(
            g.update(899),
            Some(Change::Recovered {
                bytes: 899,
                budget: 1000
            })
        );
        assert!(!g.over());
        assert_eq!(g.usage(), (899, 1000));
    }

    #[test]
    fn without_a_budget_it_never_trips() {
        for budget in [None, Some(0)] {
            let mut g = StorageGuard::new(budget);
            assert_eq!(g.update(u64::MAX), None);
            assert!(!g.over());
            assert_eq!(g.usage(), (u64::MAX, 0));
        }
    }
}
