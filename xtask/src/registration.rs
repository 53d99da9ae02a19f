//! The registration lines outside an adapter's crate, inserted next to their siblings: the
//! workspace dependency, the server's feature (with its optional dependency and its
//! `test-support` dev-dependency), the registry line, and the end-to-end test line.

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

/// Root `Cargo.toml`: `payments-<name> = { path = "crates/payments-<name>" }` among the other
/// adapters' workspace dependency lines.
pub fn workspace_dependency(text: &str, name: &str) -> Result<String, ShapeError> {
    insert_after_last(
        text,
        &format!("payments-{name} = {{ path = \"crates/payments-{name}\" }}"),
        |l| l.starts_with("payments-") && l.contains("{ path = \"crates/payments-"),
        "Cargo.toml",
        "`payments-* = { path = \"crates/payments-*\" }` line",
    )
}

/// `bins/web/Cargo.toml`: the feature line, the optional dependency it enables, and the
/// `test-support` dev-dependency the server's end-to-end test uses.
pub fn server_feature(text: &str, name: &str) -> Result<String, ShapeError> {
    let text = insert_after_last(
        text,
        &format!("{name} = [\"dep:payments-{name}\"]"),
        |l| l.contains(" = [\"dep:payments-"),
        "bins/web/Cargo.toml",
        "adapter feature line (`x = [\"dep:payments-x\"]`)",
    )?;
    let text = insert_after_last(
        &text,
        &format!("payments-{name} = {{ workspace = true, optional = true }}"),
        |l| l.starts_with("payments-") && l.ends_with("{ workspace = true, optional = true }"),
        "bins/web/Cargo.toml",
        "optional adapter dependency line",
    )?;
    insert_after_last(
        &text,
        &format!("payments-{name} = {{ workspace = true, features = [\"test-support\"] }}"),
        |l| l.starts_with("payments-") && l.ends_with("features = [\"test-support\"] }"),
        "bins/web/Cargo.toml",
        "adapter `test-support` dev-dependency line",
    )
}

/// `tests/web/adapters.rs`: the adapter's `e2e!` line, after the last one.
pub fn e2e_line(text: &str, name: &str, fixture_type: &str) -> Result<String, ShapeError> {
    insert_after_last(
        text,
        &format!("e2e! {{ \"{name}\", {name}_pays_a_receipt, payments_{name}::testing::{fixture_type} }}"),
        |l| l.starts_with("e2e! { \""),
        "tests/web/adapters.rs",
        "`e2e! { ... }` line",
    )
}

/// `bins/web/src/registry.rs`: `"<name>" => payments_<name>::<Type>,` at the end of the
/// `adapters!` list.
pub fn registry_line(text: &str, name: &str, provider_type: &str) -> Result<String, ShapeError> {
    let start = text.find("adapters! {").ok_or(ShapeError {
        file: "bins/web/src/registry.rs",
        looked_for: "`adapters! {` list",
    })?;
    let end = start
        + text[start..].find("\n}").ok_or(ShapeError {
            file: "bins/web/src/registry.rs",
            looked_for: "end of the `adapters!` list",
        })?;
    let line = format!("\n    \"{name}\" => payments_{name}::{provider_type},");
    Ok(format!("{}{line}{}", &text[..end], &text[end..]))
}

/// Whether the registry already lists `name`.
pub fn registered(registry: &str, name: &str) -> bool {
    registry.contains(&format!("\"{name}\" => "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "[workspace.dependencies]\npayments-core = { path = \"crates/payments-core\" }\npayments-store = { path = \"crates/payments-store\", default-features = false }\npayments-stripe = { path = \"crates/payments-stripe\" }\n\nactix-web = \"4\"\n";
    const WEB: &str = "[features]\ndefault = [\"sqlite\", \"dummy\"]\ndummy = [\"dep:payments-dummy\"]\nstripe = [\"dep:payments-stripe\"]\n\n[dependencies]\npayments-core.workspace = true\npayments-dummy = { workspace = true, optional = true }\npayments-stripe = { workspace = true, optional = true }\n\nactix-web.workspace = true\n\n[dev-dependencies]\npayments-stripe = { workspace = true, features = [\"test-support\"] }\ntempfile.workspace = true\n";
    const E2E: &str = "macro_rules! e2e {}\n\ne2e! { \"mollie\", mollie_pays_a_receipt, payments_mollie::testing::MollieFixture }\n";
    const REGISTRY: &str = "use x;\n\nadapters! {\n    \"dummy\" => payments_dummy::DummyProvider,\n    \"stripe\" => payments_stripe::StripeProvider,\n}\n\npub fn build() {}\n";

    #[test]
    fn the_workspace_line_goes_after_the_last_adapter() {
        let out = workspace_dependency(ROOT, "acme").unwrap();
        assert!(out.contains("payments-stripe = { path = \"crates/payments-stripe\" }\npayments-acme = { path = \"crates/payments-acme\" }\n\nactix-web"), "{out}");
    }

    #[test]
    fn the_feature_and_its_dependency_go_next_to_their_siblings() {
        let out = server_feature(WEB, "acme").unwrap();
        assert!(
            out.contains("stripe = [\"dep:payments-stripe\"]\nacme = [\"dep:payments-acme\"]\n"),
            "{out}"
        );
        assert!(out.contains("payments-stripe = { workspace = true, optional = true }\npayments-acme = { workspace = true, optional = true }\n"), "{out}");
        assert!(out.contains("features = [\"test-support\"] }\npayments-acme = { workspace = true, features = [\"test-support\"] }\ntempfile"), "{out}");
    }

    #[test]
    fn the_e2e_line_joins_the_list() {
        let out = e2e_line(E2E, "acme", "AcmeFixture").unwrap();
        assert!(out.ends_with("MollieFixture }\ne2e! { \"acme\", acme_pays_a_receipt, payments_acme::testing::AcmeFixture }\n"), "{out}");
    }

    #[test]
    fn the_registry_line_closes_the_list() {
        let out = registry_line(REGISTRY, "acme", "AcmeProvider").unwrap();
        assert!(out.contains("    \"stripe\" => payments_stripe::StripeProvider,\n    \"acme\" => payments_acme::AcmeProvider,\n}\n\npub fn build"), "{out}");
        assert!(registered(&out, "acme"));
        assert!(!registered(REGISTRY, "acme"));
    }

    #[test]
    fn an_unrecognized_file_is_an_error_naming_it() {
        let err = registry_line("fn main() {}", "acme", "AcmeProvider").unwrap_err();
        assert!(err.to_string().contains("registry.rs"), "{err}");
        let err = server_feature("[features]\n", "acme").unwrap_err();
        assert!(err.to_string().contains("bins/web/Cargo.toml"), "{err}");
    }
}
