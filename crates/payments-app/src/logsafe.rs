//! What user-supplied text may look like in a log line or an echoed message: control characters
//! (newlines, ANSI escapes) and invisible direction overrides escaped, so nobody can forge a line
//! or recolour a terminal, and truncated, so nobody can grow the log by sending long values.

/// The longest piece of user-supplied text that is logged or echoed, in characters.
pub const MAX_LOGGED: usize = 120;

fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `s` with control characters escaped (`\n`, `\u{1b}`, ...) and cut after `max_chars`
/// characters of output, saying how many bytes were left out.
pub fn clean(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars + 16));
    let mut written = 0usize;
    for (i, c) in s.char_indices() {
        let piece: String = if needs_escape(c) {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        let n = piece.chars().count();
        if written + n > max_chars {
            out.push_str(&format!("…(+{} bytes)", s.len() - i));
            return out;
        }
        out.push_str(&piece);
        written += n;
    }
    out
}

/// [`clean`] with the default bound.
pub fn bounded(s: &str) -> String {
    clean(s, MAX_LOGGED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_and_escapes_cannot_forge_lines() {
        let forged = "bob\n2026-11-30T00:00:00Z INFO logged in user=admin\u{1b}[31m";
        let c = bounded(forged);
        assert!(!c.contains('\n') && !c.contains('\u{1b}'), "{c}");
        assert!(c.starts_with("bob\\n2026"), "{c}");
        assert!(c.contains("\\u{1b}[31m"), "{c}");
        assert_eq!(
            bounded("a\\nb"),
            "a\\\\nb",
            "a typed backslash-n stays distinguishable"
        );
        assert_eq!(bounded("x\u{202e}y"), "x\\u{202e}y");
    }

    #[test]
    fn long_values_are_cut_and_say_so() {
        let long = "x".repeat(120 * 1024);
        let c = bounded(&long);
        assert!(c.len() < 160, "{}", c.len());
        assert!(
            c.ends_with(&format!("…(+{} bytes)", 120 * 1024 - MAX_LOGGED)),
            "{c}"
        );
        assert_eq!(bounded("short"), "short");
        let escapes = "\n".repeat(1000);
        assert!(bounded(&escapes).chars().count() < MAX_LOGGED + 20);
    }
}
