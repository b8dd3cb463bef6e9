//! Logging to stderr that can never stop the server.
//!
//! A log reader goes away in production: a log shipper restarts, a `kubectl logs` pipe closes,
//! `callhook serve 2>&1 | head` exits. Writing to stderr then fails with `EPIPE`, and
//! `tracing-subscriber`'s default reaction is to report the failure with `eprintln!`, which panics
//! when stderr is broken, inside whichever task was logging: a request, the key refresher or the
//! signal listener. So callhook's log lines are:
//!
//! - formatted on the request path but written off it, by a dedicated thread
//!   (`tracing-appender`'s non-blocking writer) fed through a bounded channel of
//!   [`BUFFERED_LINES`] lines, so that a slow reader never blocks a request;
//! - dropped, and counted, when that channel is full or the write fails: a failed write is
//!   swallowed by [`CountingStderr`], so neither the writer thread nor any task ever sees an
//!   error to panic on;
//! - never reported through `eprintln!` (`log_internal_errors(false)`).
//!
//! [`dropped_lines`] is exported as `callhook_log_lines_dropped_total`.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::field::{VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// How many formatted lines may wait for the writer thread; beyond it, lines are dropped and
/// counted. At a few hundred bytes a line this bounds the buffer to a few MiB.
pub const BUFFERED_LINES: usize = 8_192;

/// The format of the lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The counters behind [`dropped_lines`], set once by [`init`].
#[derive(Debug)]
struct Counters {
    /// Lines the channel had no room for (counted by `tracing-appender`).
    channel_full: ErrorCounter,
}

static COUNTERS: OnceLock<Counters> = OnceLock::new();

/// Lines whose write to stderr failed (counted by [`CountingStderr`]).
static WRITE_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Log lines dropped since the start: the buffer was full or stderr could not be written.
pub fn dropped_lines() -> u64 {
    let full = COUNTERS
        .get()
        .map_or(0, |counters| counters.channel_full.dropped_lines());
    u64::try_from(full)
        .unwrap_or(u64::MAX)
        .saturating_add(WRITE_FAILURES.load(Ordering::Relaxed))
}

/// Keeps the writer thread running; dropping it flushes what is buffered (for at most about a
/// second) and stops the thread. Keep it until the program ends.
#[derive(Debug)]
pub struct LogGuard {
    worker: Option<WorkerGuard>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        // `tracing-appender`'s guard reports a flush that timed out with `println!`, which panics
        // when stdout is broken too; a panic while exiting would turn exit code 0 into 101.
        if let Some(worker) = self.worker.take() {
            let _flushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(worker)));
        }
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogInitError {
    /// The filter is not `tracing`'s `EnvFilter` syntax.
    #[error("invalid log filter {filter:?}: {reason}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// What the parser said.
        reason: String,
    },
    /// A global subscriber was already installed.
    #[error("logging was already set up")]
    AlreadySet,
}

/// Installs the global subscriber: `filter` (`EnvFilter` syntax) in `format`, on stderr through
/// the non-blocking writer. Call once, early, and keep the guard.
pub fn init(format: LogFormat, filter: &str) -> Result<LogGuard, LogInitError> {
    let env_filter =
        tracing_subscriber::EnvFilter::try_new(filter).map_err(|error| LogInitError::Filter {
            filter: filter.to_owned(),
            reason: error.to_string(),
        })?;
    let (writer, worker) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(BUFFERED_LINES)
        .thread_name("callhook-log")
        .finish(CountingStderr::default());
    let counters = Counters {
        channel_full: writer.error_counter(),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let direct = (format == LogFormat::Pretty && !ansi).then(|| writer.clone());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(writer)
        .log_internal_errors(false)
        .with_timer(LineTime)
        .with_ansi(ansi);
    let installed = match format {
        LogFormat::Pretty => builder.fmt_fields(QuickFields).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|_| LogInitError::AlreadySet)?;
    // Only the first successful `init` gets here, so the cell is empty.
    let _first = COUNTERS.set(counters);
    if let Some(direct) = direct {
        let _first = DIRECT_WRITER.set(direct);
    }
    Ok(LogGuard {
        worker: Some(worker),
    })
}

/// The writer of the lines [`write_info_line`] formats itself: the subscriber's own, set by [`init`]
/// when the lines are human-readable and without colours, so that those lines go through the same
/// bounded channel, in the same order, and are counted the same way when dropped.
static DIRECT_WRITER: OnceLock<NonBlocking> = OnceLock::new();

thread_local! {
    /// This thread's handle on [`DIRECT_WRITER`] and the buffer its lines are formatted in.
    static DIRECT_LINE: std::cell::RefCell<(Option<NonBlocking>, String)> =
        const { std::cell::RefCell::new((None, String::new())) };
}

/// Writes the line that `tracing::info!(target: TARGET, name = value, ..., "message")` would write
/// through the subscriber [`init`] installs, byte for byte, without going through the subscriber:
/// for the line the log sink writes per notification, the subscriber's dispatch, field visitors
/// and formatting machinery cost more than the line's copies themselves (docs/performance.md).
/// A field whose value is `None` is left out, as `tracing` leaves out an absent field.
///
/// It writes only when that is certain to be the subscriber's line: `init` set up human-readable
/// lines without colours, no span is entered on this thread (the subscriber would name it), and
/// the message and every value are printable ASCII without `"` or `\` (written as they are).
/// Otherwise it writes nothing and returns false, and the caller logs the event through
/// `tracing`. The caller checks first that `target` is enabled at `info`. Each field's name was
/// checked when its [`LineField`] was made (at compile time, in a constant).
pub fn write_info_line(target: &str, message: &str, fields: &[(LineField, Option<&str>)]) -> bool {
    let Some(shared) = DIRECT_WRITER.get() else {
        return false;
    };
    if !tracing::Span::current().is_none() {
        return false;
    }
    DIRECT_LINE.with(|line| {
        let Ok(mut line) = line.try_borrow_mut() else {
            return false;
        };
        let (writer, text) = &mut *line;
        text.clear();
        if write_time(text).is_err() {
            return false;
        }
        text.push(' ');
        if !format_info_line(text, target, message, fields) {
            return false;
        }
        let writer = writer.get_or_insert_with(|| shared.clone());
        // The lossy writer never fails: a line the channel has no room for is counted.
        let _written = std::io::Write::write_all(writer, text.as_bytes());
        true
    })
}

/// Appends what the subscriber writes after the time for an `info` event of `target` with
/// `message` and `fields`, when every text is plain; false (with `out` partly written) otherwise.
fn format_info_line(
    out: &mut String,
    target: &str,
    message: &str,
    fields: &[(LineField, Option<&str>)],
) -> bool {
    let plain = is_plain(message) && fields.iter().all(|(_, value)| value.is_none_or(is_plain));
    if !plain {
        return false;
    }
    for part in [" INFO ", target, ": ", message] {
        out.push_str(part);
    }
    for (field, value) in fields {
        if let Some(value) = value {
            for part in [field.prefix, value, "\""] {
                out.push_str(part);
            }
        }
    }
    out.push('\n');
    true
}

/// A field of a line that [`write_info_line`] writes: what goes before its value (` name="`), for
/// a name the subscriber writes as it is, so that a line copies each field's name once. Made by
/// the crate's `line_field!` macro, which checks the name when the program is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineField {
    prefix: &'static str,
}

impl LineField {
    /// The field `name`, with `prefix` written ` {name}="` (`concat!` makes it in a constant);
    /// `None` when the prefix is not that, or when the subscriber would not write the name as it
    /// is (printable ASCII without `"` or `\`, and not `message`, a raw identifier or `log.`
    /// metadata).
    pub const fn new(name: &'static str, prefix: &'static str) -> Option<Self> {
        let [b' ', written @ .., b'=', b'"'] = prefix.as_bytes() else {
            return None;
        };
        let same_name = written.len() == name.len() && starts_with(written, name.as_bytes());
        if !same_name || !is_plain_name(name) {
            return None;
        }
        Some(Self { prefix })
    }
}

/// The [`LineField`] of the field `$name` (an identifier, as in `tracing::info!`), made in a
/// constant: a name the subscriber does not write as it is fails the build.
macro_rules! line_field {
    ($name:ident) => {
        const {
            match $crate::logging::LineField::new(
                stringify!($name),
                concat!(" ", stringify!($name), "=\""),
            ) {
                Some(field) => field,
                None => panic!("a field name the subscriber does not write as it is"),
            }
        }
    };
}
pub(crate) use line_field;

/// Whether the subscriber writes a field named `name` as it is: plain (see [`is_plain`]), and not
/// the message, a raw identifier or `log` metadata, which its visitor treats apart. A `const fn`,
/// so that a line's names are checked when the program is compiled.
const fn is_plain_name(name: &str) -> bool {
    let mut bytes = name.as_bytes();
    if (bytes.len() == 7 && starts_with(bytes, b"message"))
        || starts_with(bytes, b"r#")
        || starts_with(bytes, b"log.")
    {
        return false;
    }
    while let [byte, rest @ ..] = bytes {
        if *byte < b' ' || *byte > b'~' || *byte == b'"' || *byte == b'\\' {
            return false;
        }
        bytes = rest;
    }
    true
}

/// `bytes.starts_with(prefix)`, in a `const fn`.
const fn starts_with(mut bytes: &[u8], mut prefix: &[u8]) -> bool {
    loop {
        match (bytes, prefix) {
            (_, []) => return true,
            ([byte, bytes_rest @ ..], [wanted, prefix_rest @ ..]) if *byte == *wanted => {
                bytes = bytes_rest;
                prefix = prefix_rest;
            }
            _ => return false,
        }
    }
}

/// The fields of the human-readable lines: exactly what `tracing-subscriber`'s `DefaultFields`
/// writes, with a shorter way for the common case of a plain string field.
///
/// `DefaultFields` writes every string field with `{:?}`, which escapes it character by character;
/// with a line per notification (tenant, message id, call id, resource path...) that was most of
/// the cost of formatting the line. A string of printable ASCII without `"` or `\` is written as
/// `{:?}` would write it, quoted, in one copy; anything else (other characters, the `message`
/// field, raw identifiers, colours) goes to `DefaultFields`' own visitor. A test holds the two to
/// the same output.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuickFields;

impl<'writer> tracing_subscriber::field::MakeVisitor<Writer<'writer>> for QuickFields {
    type Visitor = QuickVisitor<'writer>;

    fn make_visitor(&self, target: Writer<'writer>) -> Self::Visitor {
        QuickVisitor {
            writer: target,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// The visitor of [`QuickFields`].
#[derive(Debug)]
pub struct QuickVisitor<'writer> {
    writer: Writer<'writer>,
    is_empty: bool,
    result: std::fmt::Result,
}

impl QuickVisitor<'_> {
    /// Lets `DefaultFields`' visitor write one field, where this one would write next.
    fn delegate(&mut self, field: &Field, record: impl FnOnce(&mut DefaultVisitor<'_>, &Field)) {
        if self.result.is_err() {
            return;
        }
        let mut default = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut default, field);
        self.result = default.finish();
        // The default visitor skips the `log.` metadata of `log` records without writing anything.
        if !field.name().starts_with("log.") {
            self.is_empty = false;
        }
    }
}

/// Whether `{:?}` writes `value` as itself between quotes: printable ASCII without `"` or `\`.
fn is_plain(value: &str) -> bool {
    is_plain_bytes(value.as_bytes())
}

/// [`is_plain`] of bytes, eight at a time: these are the values of every line the server writes.
fn is_plain_bytes(value: &[u8]) -> bool {
    let mut words = value.chunks_exact(8);
    let whole = words.by_ref().all(|word| {
        <[u8; 8]>::try_from(word).is_ok_and(|word| is_plain_word(u64::from_le_bytes(word)))
    });
    let rest = words.remainder();
    // The last bytes, padded with spaces (which are plain).
    let mut last = [b' '; 8];
    if let Some(place) = last.get_mut(..rest.len()) {
        place.copy_from_slice(rest);
    }
    whole && is_plain_word(u64::from_le_bytes(last))
}

/// Whether each of the eight bytes of `word` is printable ASCII other than `"` and `\`. Each test
/// sets the top bit of a byte that fails it, and of none when no byte does (a borrow or a carry
/// across bytes only ever starts at a byte that fails).
fn is_plain_word(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const TOPS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |bytes: u64| bytes.wrapping_sub(ONES) & !bytes;
    let below_space = word.wrapping_sub(ONES * u64::from(b' ')) & !word;
    let above_tilde = word.wrapping_add(ONES) | word;
    let quote = has_zero(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(word ^ (ONES * u64::from(b'\\')));
    (below_space | above_tilde | quote | backslash) & TOPS == 0
}

impl Visit for QuickVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let name = field.name();
        let quick = self.result.is_ok()
            && is_plain_name(name)
            && !self.writer.has_ansi_escapes()
            && is_plain(value);
        if !quick {
            return self.delegate(field, |default, field| default.record_str(field, value));
        }
        let separator = if self.is_empty { "" } else { " " };
        self.is_empty = false;
        // Five plain copies rather than `write!`, whose formatting machinery cost more than the
        // copies themselves for these short strings.
        self.result = [separator, name, "=\"", value, "\""]
            .into_iter()
            .try_for_each(|part| self.writer.write_str(part));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.delegate(field, |default, field| default.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // The message (`format_args!`, a `Debug` value): `DefaultFields` writes it unquoted through
        // a filter that looks at it character by character for terminal control characters. A
        // short message of ASCII without them is written as it is, in one copy.
        if field.name() == "message" && self.result.is_ok() && !self.writer.has_ansi_escapes() {
            let mut message = ShortText::default();
            if write!(message, "{value:?}").is_ok()
                && let Some(message) = message.as_plain_message()
            {
                let separator = if self.is_empty { "" } else { " " };
                self.is_empty = false;
                self.result = self
                    .writer
                    .write_str(separator)
                    .and_then(|()| self.writer.write_str(message));
                return;
            }
        }
        self.delegate(field, |default, field| default.record_debug(field, value));
    }
}

/// A message formatted on the stack: at most [`ShortText::CAPACITY`] bytes, or an error.
#[derive(Debug)]
struct ShortText {
    bytes: [u8; ShortText::CAPACITY],
    len: usize,
}

impl ShortText {
    /// Longer messages (rare: the server's are a few words) take `DefaultFields`' way.
    const CAPACITY: usize = 192;

    /// The text, when `DefaultFields` writes it unchanged as a message: ASCII without the control
    /// characters its filter escapes (ESC, BEL, BS, FF, DEL; the C1 controls are not ASCII).
    fn as_plain_message(&self) -> Option<&str> {
        let bytes = self.bytes.get(..self.len)?;
        let plain = bytes
            .iter()
            .all(|byte| byte.is_ascii() && !matches!(byte, 0x1b | 0x07 | 0x08 | 0x0c | 0x7f));
        if plain {
            std::str::from_utf8(bytes).ok()
        } else {
            None
        }
    }
}

impl Default for ShortText {
    fn default() -> Self {
        Self {
            bytes: [0; Self::CAPACITY],
            len: 0,
        }
    }
}

impl std::fmt::Write for ShortText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len.checked_add(text.len()).ok_or(std::fmt::Error)?;
        let place = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        place.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The time of each line exactly as `tracing-subscriber`'s default timer writes it (RFC 3339 in
/// UTC, to the microsecond), with the date and the time of day formatted once a second, per
/// thread, instead of once a line: with a line per notification, the calendar arithmetic and its
/// formatting were a sixth of the cost of a line.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineTime;

thread_local! {
    /// The second last formatted on this thread, and its text (`2026-12-02T14:30:00`).
    static LAST_SECOND: std::cell::RefCell<(u64, String)> =
        const { std::cell::RefCell::new((u64::MAX, String::new())) };
}

/// The last second of the year 9999, past which the default timer writes a longer year.
const LAST_FOUR_DIGIT_SECOND: u64 = 253_402_300_799;

impl tracing_subscriber::fmt::time::FormatTime for LineTime {
    fn format_time(&self, writer: &mut Writer<'_>) -> std::fmt::Result {
        write_time(writer)
    }
}

/// Writes the time now as [`LineTime`] writes it.
fn write_time(out: &mut impl std::fmt::Write) -> std::fmt::Result {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let Some(since_epoch) = since_epoch
        .ok()
        .filter(|since| since.as_secs() <= LAST_FOUR_DIGIT_SECOND)
    else {
        let mut default = String::new();
        tracing_subscriber::fmt::time::FormatTime::format_time(
            &tracing_subscriber::fmt::time::SystemTime,
            &mut Writer::new(&mut default),
        )?;
        return out.write_str(&default);
    };
    let (seconds, micros) = (since_epoch.as_secs(), since_epoch.subsec_micros());
    LAST_SECOND.with(|last| {
        let Ok(mut last) = last.try_borrow_mut() else {
            return write_date_time(out, seconds).and_then(|()| write_micros(out, micros));
        };
        if last.0 != seconds {
            last.1.clear();
            write_date_time(&mut last.1, seconds)?;
            last.0 = seconds;
        }
        out.write_str(&last.1)?;
        write_micros(out, micros)
    })
}

/// Writes `.MMMMMMZ`: the microseconds of a second (below 1,000,000), in six digits.
fn write_micros(out: &mut impl std::fmt::Write, micros: u32) -> std::fmt::Result {
    if micros >= 1_000_000 {
        return Err(std::fmt::Error);
    }
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for place in digits.iter_mut().rev() {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a remainder of 10 fits a byte"
        )]
        let digit = (rest % 10) as u8;
        *place = b'0' + digit;
        rest /= 10;
    }
    out.write_char('.')?;
    out.write_str(std::str::from_utf8(&digits).map_err(|_| std::fmt::Error)?)?;
    out.write_char('Z')
}

/// Writes `seconds` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS` (UTC, proleptic Gregorian, a
/// year of at most four digits), the calendar arithmetic being `time`'s.
fn write_date_time(out: &mut impl std::fmt::Write, seconds: u64) -> std::fmt::Result {
    let moment = i64::try_from(seconds)
        .ok()
        .and_then(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).ok())
        .ok_or(std::fmt::Error)?;
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        moment.year(),
        u8::from(moment.month()),
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second()
    )
}

impl VisitOutput<std::fmt::Result> for QuickVisitor<'_> {
    fn finish(self) -> std::fmt::Result {
        self.result
    }
}

impl VisitFmt for QuickVisitor<'_> {
    fn writer(&mut self) -> &mut dyn std::fmt::Write {
        &mut self.writer
    }
}

/// How many bytes of lines [`CountingStderr`] gathers before it writes them out, at the latest.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// How long [`CountingStderr`] waits, when the writer thread has drained its channel, before it
/// writes what it gathered: the lines that arrive meanwhile wait in the channel and go out with
/// the next write. At the channel's [`BUFFERED_LINES`] this leaves room for over 800,000 lines a
/// second.
pub const WRITE_DELAY: std::time::Duration = std::time::Duration::from_millis(10);

/// Stderr that never fails: a line that cannot be written is counted and forgotten.
///
/// The writer thread hands it one line per `write` and calls `flush` whenever its channel is
/// empty. Under load the thread keeps up, so its channel is empty after nearly every line: writing
/// on each `flush` cost a `write` per notification, and the thread's wait for the next line a
/// `sched_yield` (measured with strace: one of each per request). So `flush` first waits
/// [`WRITE_DELAY`], then writes everything gathered in one system call (and a `write` past 64 KiB
/// writes at once): a line reaches stderr at most about that delay after it was logged, and a busy
/// server makes about a hundred writes a second, whatever its rate.
/// Dropping the writer (at exit) writes what is left without waiting.
#[derive(Debug, Default)]
pub struct CountingStderr {
    batch: Vec<u8>,
    lines: u64,
    /// Whether `flush` waits before it writes; off in unit tests that call it directly.
    no_delay: bool,
}

impl CountingStderr {
    /// Writes the gathered lines; when that fails, they are counted as dropped.
    fn write_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let written = std::io::Write::write_all(&mut stderr, &self.batch)
            .and_then(|()| std::io::Write::flush(&mut stderr));
        if written.is_err() {
            WRITE_FAILURES.fetch_add(self.lines, Ordering::Relaxed);
        }
        self.batch.clear();
        self.lines = 0;
    }
}

impl std::io::Write for CountingStderr {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.batch.extend_from_slice(line);
        self.lines = self.lines.saturating_add(1);
        if self.batch.len() >= WRITE_BATCH_BYTES {
            self.write_batch();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.batch.is_empty() && !self.no_delay {
            std::thread::sleep(WRITE_DELAY);
        }
        self.write_batch();
        Ok(())
    }
}

impl Drop for CountingStderr {
    fn drop(&mut self) {
        self.write_batch();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::{Arc, Mutex};

    /// Every line written, for comparing two formats.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The same events, with plain and awkward values of every kind the server logs.
    fn emit() {
        let plain = "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896";
        let none: Option<&str> = None;
        for awkward in [
            "",
            " ",
            "with \"quotes\"",
            "back\\slash",
            "new\nline",
            "tab\there",
            "café",
            "\u{1b}[31mred",
            "~!@#$%^&*()_+`-={}[]|:;'<>?,./",
            "\u{7f}",
            "\u{200d}",
        ] {
            tracing::info!(
                target: "callhook::notification",
                protocol = "graph",
                tenant = plain,
                message_id = awkward,
                state = none,
                count = 3_u64,
                negative = -4_i64,
                flag = true,
                r#type = plain,
                debug = ?awkward,
                shown = %awkward,
                "notification {awkward}"
            );
            tracing::info!(awkward, plain, "second");
            tracing::info!(plain);
            tracing::warn!(
                error = &std::io::Error::other(awkward) as &dyn std::error::Error,
                "failed"
            );
        }
        let span = tracing::info_span!("request", id = 7_u64, message_id = plain, odd = "a\"b");
        span.in_scope(|| tracing::info!(call_id = plain, "in a span"));
    }

    fn format_with<F>(fields: F) -> String
    where
        F: for<'writer> tracing_subscriber::fmt::FormatFields<'writer> + Send + Sync + 'static,
    {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .without_time()
            .fmt_fields(fields)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// The lines of `emit` through the subscriber `init` installs for human-readable lines
    /// without colours, each without its time.
    fn subscriber_lines(emit: impl FnOnce()) -> Vec<String> {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_timer(super::LineTime)
            .fmt_fields(super::QuickFields)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| {
                let (time, rest) = line.split_once(' ').unwrap();
                assert_eq!(time.len(), "2026-12-02T14:30:00.123456Z".len(), "{line}");
                format!("{rest}\n")
            })
            .collect()
    }

    #[test]
    fn an_info_line_formatted_directly_is_the_subscribers() {
        let id = "57dab8b1-894c-409a-b240-bd8beae78896";
        let cases: [[Option<&str>; 3]; 4] = [
            [Some("graph"), Some(id), Some("incoming")],
            [Some("legacy"), None, None],
            [Some(" ~!#$%&'()*+,-./:;<=>?@[]^_`{|}"), Some(""), None],
            [None, None, Some("x")],
        ];
        let expected = subscriber_lines(|| {
            for [protocol, message_id, state] in cases {
                tracing::info!(
                    target: "callhook::notification",
                    protocol,
                    message_id,
                    state,
                    call_id = id,
                    "notification"
                );
            }
        });
        assert_eq!(expected.len(), cases.len());
        for ([protocol, message_id, state], expected) in cases.into_iter().zip(expected) {
            let mut direct = String::new();
            let fields = [
                (super::line_field!(protocol), protocol),
                (super::line_field!(message_id), message_id),
                (super::line_field!(state), state),
                (super::line_field!(call_id), Some(id)),
            ];
            assert!(super::format_info_line(
                &mut direct,
                "callhook::notification",
                "notification",
                &fields
            ));
            assert_eq!(direct, expected);
        }
    }

    #[test]
    fn an_info_line_with_an_awkward_text_is_left_to_the_subscriber() {
        for awkward in [
            "with \"quotes\"",
            "back\\slash",
            "new\nline",
            "café",
            "\u{1b}[31m",
        ] {
            let mut direct = String::new();
            assert!(!super::format_info_line(
                &mut direct,
                "callhook::notification",
                "notification",
                &[(super::line_field!(message_id), Some(awkward))]
            ));
            assert!(!super::format_info_line(&mut direct, "t", awkward, &[]));
        }
        // Names the subscriber treats apart, and prefixes that are not ` name="`, make no field.
        for (name, prefix) in [
            ("r#type", " r#type=\""),
            ("message", " message=\""),
            ("log.target", " log.target=\""),
            ("caf\u{e9}", " caf\u{e9}=\""),
            ("a\"b", " a\"b=\""),
            ("state", " state="),
            ("state", "state=\""),
            ("state", " stat=\""),
            ("state", " State=\""),
            ("state", " state=\"\""),
        ] {
            assert_eq!(
                super::LineField::new(name, prefix),
                None,
                "{name:?} {prefix:?}"
            );
        }
        assert!(super::LineField::new("call_id", " call_id=\"").is_some());
        // Outside a process that set up its logging, nothing is written directly.
        assert!(!super::write_info_line("t", "m", &[]));
    }

    #[test]
    fn quick_fields_write_exactly_what_default_fields_write() {
        let default = format_with(tracing_subscriber::fmt::format::DefaultFields::new());
        let quick = format_with(super::QuickFields);
        assert!(default.lines().count() > 40, "{default}");
        assert!(
            default.contains(r#"tenant="/communications/calls/"#),
            "{default}"
        );
        assert!(
            default.contains(r#"message_id="with \"quotes\"""#),
            "{default}"
        );
        assert_eq!(quick, default);
    }

    #[test]
    fn dates_are_those_of_the_calendar() {
        let date = |seconds| {
            let mut text = String::new();
            super::write_date_time(&mut text, seconds).unwrap();
            text
        };
        assert_eq!(date(0), "1970-01-01T00:00:00");
        assert_eq!(date(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(date(951_868_799), "2000-02-29T23:59:59");
        assert_eq!(date(951_868_800), "2000-03-01T00:00:00");
        assert_eq!(date(4_107_542_399), "2100-02-28T23:59:59");
        assert_eq!(date(4_107_542_400), "2100-03-01T00:00:00");
        assert_eq!(date(1_796_220_000), "2026-12-02T14:00:00");
        assert_eq!(date(super::LAST_FOUR_DIGIT_SECOND), "9999-12-31T23:59:59");
    }

    /// The timer writes what `tracing-subscriber`'s default timer writes, but for the microseconds
    /// (the two read the clock one after the other).
    #[test]
    fn line_time_writes_what_the_default_timer_writes() {
        let time = |timer: &dyn tracing_subscriber::fmt::time::FormatTime| {
            let mut text = String::new();
            timer
                .format_time(&mut tracing_subscriber::fmt::format::Writer::new(&mut text))
                .unwrap();
            text
        };
        // Twice for the cached second; retried when a second ends between the two clock reads.
        let mut compared = 0;
        for _ in 0..100 {
            let (quick, default) = (
                time(&super::LineTime),
                time(&tracing_subscriber::fmt::time::SystemTime),
            );
            assert_eq!(quick.len(), "2026-12-02T14:40:00.123456Z".len(), "{quick}");
            assert!(quick.ends_with('Z'), "{quick}");
            if quick.get(..20) == default.get(..20) {
                compared += 1;
                if compared == 2 {
                    break;
                }
            }
        }
        assert_eq!(compared, 2, "the two timers never agreed to the second");
    }

    #[test]
    fn short_text_takes_plain_ascii_messages_only() {
        use std::fmt::Write as _;
        let plain = |text: &str| {
            let mut short = super::ShortText::default();
            write!(short, "{text}").ok()?;
            short.as_plain_message().map(str::to_owned)
        };
        assert_eq!(plain("notification").as_deref(), Some("notification"));
        assert_eq!(
            plain("with \"quotes\" and \\").as_deref(),
            Some("with \"quotes\" and \\")
        );
        for awkward in ["\u{1b}[31m", "bell\u{7}", "\u{7f}", "café", "\u{85}"] {
            assert_eq!(plain(awkward), None, "{awkward:?}");
        }
        assert_eq!(
            plain(&"x".repeat(super::ShortText::CAPACITY)).map(|text| text.len()),
            Some(super::ShortText::CAPACITY)
        );
        assert_eq!(plain(&"x".repeat(super::ShortText::CAPACITY + 1)), None);
    }

    #[test]
    fn only_printable_ascii_without_quotes_or_backslashes_is_plain() {
        assert!(super::is_plain("/app/calls/abc-123 x~"));
        assert!(super::is_plain(""));
        for awkward in ["\"", "\\", "\n", "\u{7f}", "é", "\u{1b}"] {
            assert!(!super::is_plain(awkward), "{awkward:?}");
        }
        // Every byte at every place of a word, its last bytes and the word after, among plain
        // neighbours of every kind, against the definition.
        let by_definition =
            |byte: u8| (b' '..=b'~').contains(&byte) && byte != b'"' && byte != b'\\';
        for length in 1..=24 {
            for filler in [b' ', b'!', b'#', b'[', b']', b'~', b'a'] {
                for place in 0..length {
                    for byte in 0..=u8::MAX {
                        let mut value = vec![filler; length];
                        value[place] = byte;
                        assert_eq!(
                            super::is_plain_bytes(&value),
                            by_definition(byte),
                            "byte {byte:#04x} at {place} of {length}, among {filler:#04x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn counting_stderr_never_reports_an_error() {
        let mut writer = super::CountingStderr::default();
        assert_eq!(writer.write(b"").ok(), Some(0));
        assert!(writer.flush().is_ok());
    }

    #[test]
    fn counting_stderr_gathers_lines_until_flushed() {
        let mut writer = super::CountingStderr::default();
        writer.no_delay = true;
        assert_eq!(writer.write(b"one\n").ok(), Some(4));
        assert_eq!(writer.write(b"two\n").ok(), Some(4));
        assert_eq!((writer.batch.len(), writer.lines), (8, 2));
        assert!(writer.flush().is_ok());
        assert_eq!((writer.batch.len(), writer.lines), (0, 0));
    }
}
