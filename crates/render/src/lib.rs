//! Rendering reports: human text (coloured on terminals), JSON (versioned
//! schemas, see docs/), Markdown for tickets, HTML where a page beats a
//! terminal.
//!
//! Renderers write to any `io::Write` and decide nothing: what to say is the
//! diagnosis' job, how to show it is this crate's.

#![deny(missing_docs)]

pub mod core;
pub mod html;
pub mod json;
pub mod markdown;
pub mod profile;
mod style;
pub mod text;
mod wrap;

pub use style::Paint;

use std::io::{self, Write};

use gosleuth_diagnose::{GoroutineView, Report};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human text.
    Text,
    /// One JSON object.
    Json,
    /// Markdown.
    Markdown,
    /// A standalone HTML page.
    Html,
}

/// Writes an analysis report.
pub fn write_report(
    report: &Report,
    format: Format,
    colored: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::write_report(report, Paint::new(colored), out),
        Format::Json => json::write_report(report, out),
        Format::Markdown => markdown::write_report(report, out),
        Format::Html => html::write_report(report, out),
    }
}

/// Writes a grouped goroutine view.
pub fn write_goroutines(
    view: &GoroutineView,
    format: Format,
    colored: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::write_goroutines(view, Paint::new(colored), out),
        Format::Json => json::write_goroutines(view, out),
        Format::Markdown => markdown::write_goroutines(view, out),
        Format::Html => html::write_goroutines(view, out),
    }
}
