//! The runner's file and log commands: outputs, job summary, `::error::`, `::group::`,
//! `::add-mask::`. Formats follow the runner's contract (see the README's Action section).

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

/// The runner rejects a step summary larger than this, whole.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// `%`, CR and LF escaped, as in a command's data.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// As `escape_data`, plus `:` and `,`, as in a command's properties.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn error(title: &str, message: &str) -> String {
    format!(
        "::error title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

pub fn warning(message: &str) -> String {
    format!("::warning::{}", escape_data(message))
}

pub fn notice(message: &str) -> String {
    format!("::notice::{}", escape_data(message))
}

pub fn group(title: &str) -> String {
    format!("::group::{}", escape_data(title))
}

pub const END_GROUP: &str = "::endgroup::";

/// `text` printed as written, with the runner's command processing stopped around it: a line
/// of it that starts with `::` (a hook command can hold anything) is shown, never obeyed. The
/// token that resumes processing is random, so that the text cannot guess and end the block.
pub fn verbatim(text: &str) -> String {
    let token = random_token();
    let mut out = format!("::stop-commands::{token}\n{text}");
    if !text.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("::{token}::\n"));
    out
}

/// 32 hex digits from the system's random source (the clock and the process as a fallback).
fn random_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = (nanos ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Tells the runner to hide `secret` in every later log line.
pub fn add_mask(secret: &str) -> String {
    format!("::add-mask::{}", escape_data(secret))
}

/// One `name<<DELIM` block; the delimiter is chosen so that it does not occur in the value.
pub fn output_entry(name: &str, value: &str, nonce: u64) -> String {
    let mut n = nonce;
    let mut delimiter = format!("ghadelimiter_{n:016x}");
    while value.contains(&delimiter) {
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        delimiter = format!("ghadelimiter_{n:016x}");
    }
    let mut out = String::new();
    let _ = writeln!(out, "{name}<<{delimiter}");
    let _ = writeln!(out, "{value}");
    let _ = writeln!(out, "{delimiter}");
    out
}

/// Appends outputs to `$GITHUB_OUTPUT`.
pub fn write_outputs(path: &Path, outputs: &[(&str, String)], nonce: u64) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for (name, value) in outputs {
        f.write_all(output_entry(name, value, nonce).as_bytes())?;
    }
    Ok(())
}

/// Appends Markdown to `$GITHUB_STEP_SUMMARY`, cut to fit the runner's limit with what is
/// already there (a larger summary would be dropped whole).
pub fn append_summary(path: &Path, markdown: &str) -> std::io::Result<()> {
    let existing = std::fs::metadata(path)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let room = SUMMARY_LIMIT.saturating_sub(existing);
    let text = fit(
        markdown,
        room,
        "\n\n*(cut: the summary reached GitHub's 1 MiB limit)*\n",
    );
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// `text` if it fits in `limit` bytes, else its start (on a line boundary) and `note`.
pub fn fit(text: &str, limit: usize, note: &str) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let budget = limit.saturating_sub(note.len());
    let mut cut = budget.min(text.len());
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let head = head.rfind('\n').map(|i| &head[..=i]).unwrap_or(head);
    format!("{head}{note}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_the_runner() {
        assert_eq!(escape_data("50%\r\nok"), "50%25%0D%0Aok");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(
            error("Invalid input: mode", "line1\nline2"),
            "::error title=Invalid input%3A mode::line1%0Aline2"
        );
    }

    #[test]
    fn output_delimiter_never_occurs_in_the_value() {
        let value = "x\nghadelimiter_0000000000000001\ny";
        let entry = output_entry("plan", value, 1);
        let delimiter = entry.lines().next().unwrap().split("<<").nth(1).unwrap();
        assert_ne!(delimiter, "ghadelimiter_0000000000000001");
        assert!(!value.contains(delimiter));
        assert!(entry.ends_with(&format!("\n{delimiter}\n")));
    }

    #[test]
    fn long_texts_are_cut_on_a_line_with_a_note() {
        let text = "line\n".repeat(100);
        let cut = fit(&text, 50, "[cut]");
        assert!(cut.len() <= 50);
        assert!(cut.ends_with("line\n[cut]"));
        assert_eq!(fit("short", 50, "[cut]"), "short");
    }
}
