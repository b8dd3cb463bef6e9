//! Output for people: aligned columns, coloured only when standard output is a terminal (and
//! `NO_COLOR` is not set).

use std::io::IsTerminal;

use anstyle::{AnsiColor, Style};

/// Writes styled text, or plain text when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    color: bool,
}

impl Printer {
    /// Colour when standard output is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Self {
            color: std::io::stdout().is_terminal() && !no_color,
        }
    }

    /// Plain text, for tests and files.
    pub fn plain() -> Self {
        Self { color: false }
    }

    fn paint(self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    /// A passed check.
    pub fn good(self, text: &str) -> String {
        self.paint(
            Style::new().fg_color(Some(AnsiColor::Green.into())).bold(),
            text,
        )
    }

    /// A failed check.
    pub fn bad(self, text: &str) -> String {
        self.paint(
            Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
            text,
        )
    }

    /// A heading.
    pub fn heading(self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    /// Secondary text.
    pub fn dim(self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }

    /// A command to paste.
    pub fn command(self, text: &str) -> String {
        self.paint(Style::new().fg_color(Some(AnsiColor::Cyan.into())), text)
    }
}

/// Writes `text` and a newline to standard output. A closed pipe (`callhook demo | head`) ends the
/// output quietly instead of panicking like `println!`.
pub fn say(text: &str) {
    use std::io::Write;

    let mut stdout = std::io::stdout().lock();
    let _ignored = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}
