//! What a run of the suite found: one line per check, and a closing summary.

use std::fmt;

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// The rule the adapter broke, with what was seen.
    Failed(String),
    /// Why the check could not run (a hook the fixture does not provide, a capability the
    /// adapter does not declare).
    Skipped(String),
}

/// One check of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Dotted name, e.g. `amounts.zero_decimal.wire`.
    pub name: String,
    pub outcome: Outcome,
}

/// Every check of one run, in the order they ran.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub provider: String,
    pub results: Vec<CheckResult>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.outcome)).count()
    }

    /// Whether no check failed.
    pub fn is_pass(&self) -> bool {
        self.failed() == 0
    }

    /// The names of the failed checks.
    pub fn failed_names(&self) -> Vec<&str> {
        self.names(|o| matches!(o, Outcome::Failed(_)))
    }

    /// The names of the skipped checks.
    pub fn skipped_names(&self) -> Vec<&str> {
        self.names(|o| matches!(o, Outcome::Skipped(_)))
    }

    fn names(&self, f: impl Fn(&Outcome) -> bool) -> Vec<&str> {
        self.results
            .iter()
            .filter(|r| f(&r.outcome))
            .map(|r| r.name.as_str())
            .collect()
    }

    /// The closing summary: `conformance of dummy: 41 checks ran; 39 passed, 0 failed and 2
    /// skipped`.
    pub fn summary(&self) -> String {
        format!(
            "conformance of {}: {} checks ran; {} passed, {} failed and {} skipped",
            self.provider,
            self.results.len(),
            self.passed(),
            self.failed(),
            self.skipped()
        )
    }

    /// Prints the report to stderr (shown by `cargo test -- --nocapture`, and for a failing
    /// test always) and panics, printing it again, when a check failed or when the skipped
    /// checks are not exactly `expected_skips`: listing the skips in the adapter's test keeps
    /// them visible in the code, and a check that starts being skipped fails the test.
    pub fn assert_passed(&self, expected_skips: &[&str]) {
        eprintln!("{self}");
        let mut skipped = self.skipped_names();
        skipped.sort_unstable();
        let mut expected = expected_skips.to_vec();
        expected.sort_unstable();
        assert!(
            self.is_pass() && skipped == expected,
            "the conformance suite failed for {}\n{self}\nfailed: {:?}\nskipped: {skipped:?}, expected skipped: {expected:?}",
            self.provider,
            self.failed_names(),
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.results {
            match &r.outcome {
                Outcome::Passed => writeln!(f, "  ok    {}", r.name)?,
                Outcome::Failed(why) => writeln!(f, "  FAIL  {}: {why}", r.name)?,
                Outcome::Skipped(why) => writeln!(f, "  skip  {}: {why}", r.name)?,
            }
        }
        write!(f, "{}", self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcomes: &[(&str, Outcome)]) -> Report {
        Report {
            provider: "acme".into(),
            results: outcomes
                .iter()
                .map(|(n, o)| CheckResult {
                    name: (*n).into(),
                    outcome: o.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn counts_and_summary() {
        let r = report(&[
            ("a", Outcome::Passed),
            ("b", Outcome::Failed("wrong".into())),
            ("c", Outcome::Skipped("no hook".into())),
        ]);
        assert_eq!((r.passed(), r.failed(), r.skipped()), (1, 1, 1));
        assert_eq!(
            r.summary(),
            "conformance of acme: 3 checks ran; 1 passed, 1 failed and 1 skipped"
        );
        let text = r.to_string();
        assert!(
            text.contains("  FAIL  b: wrong\n") && text.contains("  skip  c: no hook\n"),
            "{text}"
        );
    }

    #[test]
    fn assert_passed_wants_no_failure_and_exactly_the_expected_skips() {
        let ok = report(&[("a", Outcome::Passed), ("c", Outcome::Skipped("x".into()))]);
        ok.assert_passed(&["c"]);
        assert!(std::panic::catch_unwind(|| ok.assert_passed(&[])).is_err());
        assert!(std::panic::catch_unwind(|| ok.assert_passed(&["c", "d"])).is_err());
        let failed = report(&[("b", Outcome::Failed("wrong".into()))]);
        assert!(std::panic::catch_unwind(|| failed.assert_passed(&[])).is_err());
    }
}
