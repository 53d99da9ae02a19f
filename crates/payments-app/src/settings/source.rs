//! Where the variables come from (the process environment after `.env`, or a map in tests),
//! and `.env` problems reported without its contents.

use std::collections::HashMap;
use std::path::PathBuf;

/// Where the variables come from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment (after `.env` was loaded into it).
#[derive(Debug, Clone, Copy)]
pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// A `.env` problem as one line that names the file and line but shows none of its contents
/// (dotenvy's own message quotes the line, and after an unterminated quote the rest of the file).
pub fn dotenv_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(text, _) => {
            let path = find_dotenv();
            let line = path
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .and_then(|contents| dotenv_line_of(&contents, text));
            let name = path.map_or_else(|| ".env".to_string(), |p| p.display().to_string());
            match line {
                Some(n) => format!(
                    "{name} line {n} cannot be parsed (an unterminated quote, or not NAME=value); \
                     its contents are not shown"
                ),
                None => format!("{name}: a line cannot be parsed (an unterminated quote, or not NAME=value)"),
            }
        }
        dotenvy::Error::Io(io) => format!(".env cannot be read: {io}"),
        dotenvy::Error::EnvVar(_) => ".env holds a value that is not valid unicode".to_string(),
        _ => ".env cannot be loaded".to_string(),
    }
}

/// The `.env` dotenvy reads: in the working directory or the nearest parent.
fn find_dotenv() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors().map(|d| d.join(".env")).find(|p| p.is_file())
}

/// The 1-based line of `contents` where the logical line `text` (as dotenvy reports it) starts.
pub fn dotenv_line_of(contents: &str, text: &str) -> Option<usize> {
    let first = text.lines().next()?.trim();
    if first.is_empty() {
        return None;
    }
    contents.lines().position(|l| l.trim() == first).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_dotenv_line_is_found_by_number() {
        let contents = "A=1\n# note\nB=\"open\nC=3\n";
        assert_eq!(dotenv_line_of(contents, "B=\"open\nC=3\n"), Some(3));
        assert_eq!(dotenv_line_of(contents, ""), None);
    }
}
