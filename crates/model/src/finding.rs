//! Findings: what an artifact shows and what follows from it.

use serde::Serialize;

/// How much a finding matters to the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The cause of the incident, or evidence pointing straight at it.
    Critical,
    /// Something wrong or suspicious that needs a look.
    Warning,
    /// Context that helps reading the rest.
    Info,
}

impl Severity {
    /// The word used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One observation about the evidence together with its meaning.
///
/// `observation` states only what the artifact shows (quotable, checkable);
/// `meaning` says what follows from it and what to do next. Keeping them
/// apart lets a reader trust the first and judge the second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable identifier of the rule that produced it, e.g. `nil-map-write`.
    pub id: String,
    /// How much it matters.
    pub severity: Severity,
    /// One line summary.
    pub title: String,
    /// What the artifact shows.
    pub observation: String,
    /// What it means and what to do next.
    pub meaning: String,
    /// Where the evidence is: input names, goroutine ids, frames, addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

impl Finding {
    /// A finding without evidence references; add them with [`Finding::with_evidence`].
    pub fn new(
        id: impl Into<String>,
        severity: Severity,
        title: impl Into<String>,
        observation: impl Into<String>,
        meaning: impl Into<String>,
    ) -> Self {
        Finding {
            id: id.into(),
            severity,
            title: title.into(),
            observation: observation.into(),
            meaning: meaning.into(),
            evidence: Vec::new(),
        }
    }

    /// Adds one evidence reference.
    pub fn with_evidence(mut self, evidence: impl Into<String>) -> Self {
        self.evidence.push(evidence.into());
        self
    }
}
