//! Colour for terminals, nothing for pipes: every styled piece goes through
//! [`Paint`], which is a no-op when colour is off.

use owo_colors::OwoColorize;

use gosleuth_diagnose::FrameRole;
use gosleuth_model::Severity;

/// Styling switched on or off once, at the top.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// Colour when `on`.
    pub fn new(on: bool) -> Self {
        Paint { on }
    }

    /// Section headings.
    pub fn heading(&self, s: &str) -> String {
        if self.on {
            s.bold().underline().to_string()
        } else {
            s.to_string()
        }
    }

    /// Emphasis.
    pub fn bold(&self, s: &str) -> String {
        if self.on {
            s.bold().to_string()
        } else {
            s.to_string()
        }
    }

    /// Less important text.
    pub fn dim(&self, s: &str) -> String {
        if self.on {
            s.dimmed().to_string()
        } else {
            s.to_string()
        }
    }

    /// The culprit and critical things.
    pub fn red(&self, s: &str) -> String {
        if self.on {
            s.red().bold().to_string()
        } else {
            s.to_string()
        }
    }

    /// Warnings.
    pub fn yellow(&self, s: &str) -> String {
        if self.on {
            s.yellow().to_string()
        } else {
            s.to_string()
        }
    }

    /// Informational accents.
    pub fn cyan(&self, s: &str) -> String {
        if self.on {
            s.cyan().to_string()
        } else {
            s.to_string()
        }
    }

    /// Application code.
    pub fn green(&self, s: &str) -> String {
        if self.on {
            s.green().to_string()
        } else {
            s.to_string()
        }
    }

    /// A severity label, padded.
    pub fn severity(&self, s: Severity) -> String {
        let label = format!("{:<8}", s.as_str());
        match s {
            Severity::Critical => self.red(&label),
            Severity::Warning => self.yellow(&label),
            Severity::Info => self.cyan(&label),
        }
    }

    /// A function name coloured by what the frame is.
    pub fn function(&self, name: &str, role: FrameRole) -> String {
        match role {
            FrameRole::Culprit => self.red(name),
            FrameRole::User | FrameRole::Middleware => self.green(name),
            FrameRole::Runtime
            | FrameRole::Std
            | FrameRole::PanicMachinery
            | FrameRole::Unknown => self.dim(name),
            FrameRole::RecoverHelper | FrameRole::Framework(_) => name.to_string(),
        }
    }
}
