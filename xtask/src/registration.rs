//! The three registration lines outside an adapter's crate, inserted next to their siblings: the
//! server's feature and its optional dependency (bins/web/Cargo.toml), and the registry line
//! (bins/web/src/registry.rs), from which the server's end-to-end test is derived too.

use std::fmt;

/// A registration file whose shape the generator does not recognize.
#[derive(Debug)]
pub struct ShapeError {
    pub file: &'static str,
    pub looked_for: &'static str,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: found no {} to add the new adapter next to; add its line by hand (docs/writing-an-adapter.md)",
            self.file, self.looked_for
        )
    }
}

impl std::error::Error for ShapeError {}

/// Inserts `line` after the last line for which `sibling` holds, keeping the file's line ends.
fn insert_after_last(
    text: &str,
    line: &str,
    sibling: impl Fn(&str) -> bool,
    file: &'static str,
    looked_for: &'static str,
) -> Result<String, ShapeError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let at = lines
        .iter()
        .rposition(|l| sibling(l.trim_end()))
        .ok_or(ShapeError { file, looked_for })?;
    let mut out = String::with_capacity(text.len() + line.len() + 1);
    for (i, l) in lines.iter().enumerate() {
        out.push_str(l);
        if i == at {
            if !l.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// `bins/web/Cargo.toml`: the feature line and the optional dependency it enables. (Cargo needs
/// both: a dependency must be declared, and a feature named `acme` for `payments-acme` must be
/// written out. Test builds get the adapter's `testing` module without a line of their own.)
pub fn server_feature(text: &str, name: &str) -> Result<String, ShapeError> {
    let text = insert_after_last(
        text,
        &format!("{name} = [\"dep:payments-{name}\"]"),
        |l| l.contains(" = [\"dep:payments-"),
        "bins/web/Cargo.toml",
        "adapter feature line (`x = [\"dep:payments-x\"]`)",
    )?;
    insert_after_last(
        &text,
        &format!("payments-{name} = {{ path = \"../../crates/payments-{name}\", optional = true }}"),
        |l| l.starts_with("payments-") && l.ends_with("optional = true }"),
        "bins/web/Cargo.toml",
        "optional adapter dependency line",
    )
}

/// `bins/web/src/registry.rs`: `"<name>" => payments_<name>::{<Provider>, testing::<Fixture>},`
/// at the end of the `adapter_registry!` list (its closing `}` is indented by eight spaces).
pub fn registry_line(text: &str, name: &str, camel: &str) -> Result<String, ShapeError> {
    let start = text.find("macro_rules! adapter_registry").ok_or(ShapeError {
        file: "bins/web/src/registry.rs",
        looked_for: "`macro_rules! adapter_registry` list",
    })?;
    let end = start
        + text[start..].find("\n        }\n").ok_or(ShapeError {
            file: "bins/web/src/registry.rs",
            looked_for: "end of the `adapter_registry!` list",
        })?;
    let line =
        format!("\n            \"{name}\" => payments_{name}::{{{camel}Provider, testing::{camel}Fixture}},");
    Ok(format!("{}{line}{}", &text[..end], &text[end..]))
}

/// Whether the registry already lists `name`.
pub fn registered(registry: &str, name: &str) -> bool {
    registry.contains(&format!("\"{name}\" => "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = "[features]\ndefault = [\"sqlite\", \"dummy\"]\ndummy = [\"dep:payments-dummy\"]\nstripe = [\"dep:payments-stripe\"]\n\n[dependencies]\npayments-core.workspace = true\npayments-dummy = { path = \"../../crates/payments-dummy\", optional = true }\npayments-stripe = { path = \"../../crates/payments-stripe\", optional = true }\n\nactix-web.workspace = true\n\n[dev-dependencies]\npayments-core = { workspace = true, features = [\"mock\"] }\n";
    const REGISTRY: &str = "use x;\n\n#[macro_export]\nmacro_rules! adapter_registry {\n    ($callback:ident) => {\n        $callback! {\n            \"dummy\" => payments_dummy::{DummyProvider, testing::DummyFixture},\n            \"stripe\" => payments_stripe::{StripeProvider, testing::StripeFixture},\n        }\n    };\n}\n\nmacro_rules! adapters {\n    () => {\n        {}\n    };\n}\n";

    #[test]
    fn the_feature_and_its_dependency_go_next_to_their_siblings() {
        let out = server_feature(WEB, "acme").unwrap();
        assert!(
            out.contains("stripe = [\"dep:payments-stripe\"]\nacme = [\"dep:payments-acme\"]\n"),
            "{out}"
        );
        assert!(out.contains("optional = true }\npayments-acme = { path = \"../../crates/payments-acme\", optional = true }\n\nactix-web"), "{out}");
        assert_eq!(out.lines().count(), WEB.lines().count() + 2, "{out}");
    }

    #[test]
    fn the_registry_line_closes_the_list() {
        let out = registry_line(REGISTRY, "acme", "Acme").unwrap();
        assert!(out.contains("testing::StripeFixture},\n            \"acme\" => payments_acme::{AcmeProvider, testing::AcmeFixture},\n        }\n    };\n}\n\nmacro_rules! adapters"), "{out}");
        assert!(registered(&out, "acme"));
        assert!(!registered(REGISTRY, "acme"));
        assert_eq!(out.lines().count(), REGISTRY.lines().count() + 1);
    }

    #[test]
    fn an_unrecognized_file_is_an_error_naming_it() {
        let err = registry_line("fn main() {}", "acme", "Acme").unwrap_err();
        assert!(err.to_string().contains("registry.rs"), "{err}");
        let err = server_feature("[features]\n", "acme").unwrap_err();
        assert!(err.to_string().contains("bins/web/Cargo.toml"), "{err}");
    }
}
