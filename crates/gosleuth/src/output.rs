//! Where reports go: stdout, coloured only when that makes sense.

use std::io::{self, Write};

use crate::cli::{ColorChoice, Format};

/// The destination of a command's report, with the user's format and colour
/// choices resolved.
pub struct Output {
    pub format: Format,
    colored: bool,
    stream: io::BufWriter<anstream::AutoStream<io::Stdout>>,
}

impl Output {
    pub fn new(format: Format, color: ColorChoice) -> Self {
        let choice = match color {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        };
        // Colour is for humans reading text; JSON, Markdown and HTML carry
        // no escape codes whatever the terminal.
        let choice = if format == Format::Text {
            choice
        } else {
            anstream::ColorChoice::Never
        };
        let stdout = io::stdout();
        let choice = match choice {
            anstream::ColorChoice::Auto => anstream::AutoStream::choice(&stdout),
            other => other,
        };
        let colored = choice != anstream::ColorChoice::Never;
        let stream = io::BufWriter::new(anstream::AutoStream::new(stdout, choice));
        Output {
            format,
            colored,
            stream,
        }
    }

    /// Whether ANSI colour codes reach the destination.
    pub fn colored(&self) -> bool {
        self.colored
    }

    /// The renderer's name for the chosen format.
    pub fn render_format(&self) -> gosleuth_render::Format {
        match self.format {
            Format::Text => gosleuth_render::Format::Text,
            Format::Json => gosleuth_render::Format::Json,
            Format::Md => gosleuth_render::Format::Markdown,
            Format::Html => gosleuth_render::Format::Html,
        }
    }

    pub fn writer(&mut self) -> &mut dyn Write {
        &mut self.stream
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Prints a warning about skipped or partial input on stderr, so that stdout
/// stays a clean report for pipes.
pub fn warn(message: impl std::fmt::Display) {
    let mut err = anstream::stderr();
    let _ = writeln!(err, "gosleuth: warning: {message}");
}
