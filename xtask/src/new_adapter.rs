//! `new-adapter NAME`: writes a compiling adapter crate from `templates/adapter/` (with an
//! `evidence/` folder for the provider's published payloads, vectors and example requests), its
//! provider doc, and the three registration lines (in two files). Everything is checked before
//! anything is written.

use std::path::{Path, PathBuf};

use crate::names::Names;
use crate::registration;

/// `(path relative to the workspace root, template)`; paths are rendered like the contents.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "crates/payments-{{name}}/Cargo.toml",
        include_str!("../templates/adapter/Cargo.toml.tmpl"),
    ),
    (
        "crates/payments-{{name}}/build.rs",
        include_str!("../templates/adapter/build.rs.tmpl"),
    ),
    (
        "crates/payments-{{name}}/README.md",
        include_str!("../templates/adapter/README.md.tmpl"),
    ),
    (
        "crates/payments-{{name}}/src/lib.rs",
        include_str!("../templates/adapter/lib.rs.tmpl"),
    ),
    (
        "crates/payments-{{name}}/src/config.rs",
        include_str!("../templates/adapter/config.rs.tmpl"),
    ),
    (
        "crates/payments-{{name}}/src/transformers.rs",
        include_str!("../templates/adapter/transformers.rs.tmpl"),
    ),
    (
        "crates/payments-{{name}}/src/webhook.rs",
        include_str!("../templates/adapter/webhook.rs.tmpl"),
    ),
    (
        "crates/payments-{{name}}/src/testing.rs",
        include_str!("../templates/adapter/testing.rs.tmpl"),
    ),
    (
        "crates/payments-{{name}}/tests/{{name}}.rs",
        include_str!("../templates/adapter/tests.rs.tmpl"),
    ),
    (
        "crates/payments-{{name}}/evidence/README.md",
        include_str!("../templates/adapter/evidence-README.md.tmpl"),
    ),
    // Empty: they keep the empty folders in git (the suite reads only `*.json` there). No
    // `signatures.json`: only published vectors belong in it, so `evidence.signatures` fails for
    // a signed provider until the author adds them.
    (EVENTS_KEEP, ""),
    (REQUESTS_KEEP, ""),
    (
        "docs/providers/{{name}}.md",
        include_str!("../templates/adapter/provider.md.tmpl"),
    ),
];

const EVENTS_KEEP: &str = "crates/payments-{{name}}/evidence/events/.gitkeep";
const REQUESTS_KEEP: &str = "crates/payments-{{name}}/evidence/requests/.gitkeep";

const SERVER_MANIFEST: &str = "bins/web/Cargo.toml";
const REGISTRY: &str = "bins/web/src/registry.rs";

/// What `new-adapter` wrote.
#[derive(Debug)]
pub struct Generated {
    pub created: Vec<PathBuf>,
    pub changed: Vec<PathBuf>,
    /// A provider doc written before the crate (protocol research often comes first) is kept.
    pub kept: Vec<PathBuf>,
}

/// The one generated file that may exist already: the provider's protocol notes.
const PROVIDER_DOC: &str = "docs/providers/{{name}}.md";

fn read(root: &Path, rel: &str) -> Result<String, String> {
    std::fs::read_to_string(root.join(rel)).map_err(|e| format!("{}: {e}", root.join(rel).display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Generates the adapter `name` in the workspace at `root`.
pub fn run(root: &Path, name: &str) -> Result<Generated, String> {
    let names = Names::new(name)?;
    let crate_dir = root.join(format!("crates/payments-{name}"));
    if crate_dir.exists() {
        return Err(format!(
            "{} exists already: nothing was written",
            crate_dir.display()
        ));
    }
    let registry = read(root, REGISTRY)?;
    if registration::registered(&registry, name) {
        return Err(format!(
            "{REGISTRY} lists \"{name}\" already: nothing was written"
        ));
    }
    // Every new text first; only then any write.
    let edits = [
        (
            SERVER_MANIFEST,
            registration::server_feature(&read(root, SERVER_MANIFEST)?, name),
        ),
        (
            REGISTRY,
            registration::registry_line(&registry, name, &names.camel),
        ),
    ];
    let mut changes = Vec::new();
    for (rel, edit) in edits {
        changes.push((rel, edit.map_err(|e| format!("{e}: nothing was written"))?));
    }
    let mut kept = Vec::new();
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for (path, text) in TEMPLATES {
        let target = root.join(names.render(path));
        if *path == PROVIDER_DOC && target.exists() {
            kept.push(target);
        } else {
            files.push((target, names.render(text)));
        }
    }
    if let Some((path, _)) = files.iter().find(|(path, _)| path.exists()) {
        return Err(format!("{} exists already: nothing was written", path.display()));
    }
    let mut generated = Generated {
        created: Vec::new(),
        changed: Vec::new(),
        kept,
    };
    for (path, text) in files {
        write(&path, &text)?;
        generated.created.push(path);
    }
    for (rel, text) in changes {
        write(&root.join(rel), &text)?;
        generated.changed.push(root.join(rel));
    }
    // The templates cannot be formatted for every name's length: the generated Rust is formatted
    // as the workspace formats it, so that an untouched crate passes `cargo fmt --check`.
    let rust: Vec<PathBuf> = generated
        .created
        .iter()
        .chain(generated.changed.iter())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .cloned()
        .collect();
    rustfmt(root, &rust, false)?;
    Ok(generated)
}

/// Runs rustfmt (edition 2021, the workspace's `rustfmt.toml`) on `files`; with `check`, only
/// says whether they are formatted.
pub fn rustfmt(root: &Path, files: &[PathBuf], check: bool) -> Result<(), String> {
    if files.is_empty() {
        return Ok(());
    }
    let mut cmd = std::process::Command::new(std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into()));
    cmd.args(["--edition", "2021"]);
    if root.join("rustfmt.toml").exists() {
        cmd.arg("--config-path").arg(root.join("rustfmt.toml"));
    }
    if check {
        cmd.arg("--check");
    }
    let out = cmd
        .args(files)
        .output()
        .map_err(|e| format!("rustfmt could not run ({e}): run `cargo fmt --all` yourself"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rustfmt{}: {}{}",
            if check { " --check" } else { "" },
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace root holding only the two registration files, as the real ones begin.
    fn scratch_root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for rel in [SERVER_MANIFEST, REGISTRY] {
            let text = std::fs::read_to_string(real.join(rel)).unwrap();
            write(&dir.path().join(rel), &text).unwrap();
        }
        dir
    }

    #[test]
    fn writes_the_crate_the_doc_and_the_three_lines() {
        let root = scratch_root();
        let out = run(root.path(), "acme").unwrap();
        assert_eq!(out.created.len(), TEMPLATES.len());
        assert_eq!(out.changed.len(), 2);
        for path in &out.created {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(!text.contains("{{"), "{} keeps a placeholder", path.display());
        }
        let registry = std::fs::read_to_string(root.path().join(REGISTRY)).unwrap();
        assert!(registry.contains("\"acme\" => payments_acme::{AcmeProvider, testing::AcmeFixture},"));
        let web = std::fs::read_to_string(root.path().join(SERVER_MANIFEST)).unwrap();
        assert!(web.contains("acme = [\"dep:payments-acme\"]"));
        assert!(web.contains("payments-acme = { path = \"../../crates/payments-acme\", optional = true }"));
        let lib = std::fs::read_to_string(root.path().join("crates/payments-acme/src/lib.rs")).unwrap();
        assert!(lib.contains("impl payments_core::Adapter for AcmeProvider"));
    }

    #[test]
    fn the_generated_rust_is_formatted_as_the_workspace_formats_it() {
        let root = scratch_root();
        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        std::fs::copy(real.join("rustfmt.toml"), root.path().join("rustfmt.toml")).unwrap();
        // A long name changes how lines break: the output is formatted, not the templates.
        let out = run(root.path(), "averylongprovidername").unwrap();
        let rust: Vec<PathBuf> = out
            .created
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .cloned()
            .collect();
        assert!(rust.len() >= 4, "{rust:?}");
        rustfmt(root.path(), &rust, true).unwrap();
    }

    #[test]
    fn the_crate_gets_an_evidence_folder_without_signatures() {
        let root = scratch_root();
        run(root.path(), "acme").unwrap();
        let evidence = root.path().join("crates/payments-acme/evidence");
        let readme = std::fs::read_to_string(evidence.join("README.md")).unwrap();
        for part in [
            "## events/",
            "## signatures.json",
            "## requests/",
            "Never",
            "this adapter's code",
            "official SDKs' tests",
            "`source`",
            "`patch`",
            "minor units",
        ] {
            assert!(readme.contains(part), "the evidence README lacks {part:?}");
        }
        // One small example of each file, each naming its source.
        let examples: Vec<&str> = readme.split("```json").skip(1).collect();
        assert_eq!(examples.len(), 3, "{readme}");
        for example in examples {
            let example = example.split("```").next().unwrap();
            assert!(example.contains("\"source\": \"https://"), "{example}");
        }
        // The two folders exist, and hold nothing the suite reads (it reads `*.json` only).
        for dir in ["events", "requests"] {
            let names: Vec<String> = std::fs::read_dir(evidence.join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, [".gitkeep"], "evidence/{dir}");
        }
        // Only the provider's own vectors belong in signatures.json: none is made up.
        assert!(!evidence.join("signatures.json").exists());
    }

    #[test]
    fn the_fixture_hands_the_suite_the_evidence_and_guides_the_rest() {
        let root = scratch_root();
        run(root.path(), "acme").unwrap();
        let testing =
            std::fs::read_to_string(root.path().join("crates/payments-acme/src/testing.rs")).unwrap();
        for code in [
            "fn evidence_dir(&self) -> Option<PathBuf> {",
            "Some(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/evidence\").into())",
            "async fn serve(&self, served: &Served) -> bool {",
            "self.mock.serve(&served.method, &served.path, served.status, &served.body);",
            "async fn verifier(&self, case: &SignatureCase) -> Option<Box<dyn PaymentProvider>> {",
            "AcmeConfig::new(API_KEY, &case.secret)",
            "config.api_base = self.mock.uri();",
        ] {
            // rustfmt may break the lines anywhere: compare without whitespace.
            let squash = |t: &str| t.split_whitespace().collect::<String>();
            assert!(
                squash(&testing).contains(&squash(code)),
                "testing.rs lacks {code:?}"
            );
        }
        // The hooks left to their defaults are described in comments, not written.
        for hook in [
            "fn set_refund_state(",
            "fn no_authorization_because(",
            "fn second_amount(",
            "fn event_id_header(",
        ] {
            let lines: Vec<&str> = testing.lines().filter(|l| l.contains(hook)).collect();
            assert!(!lines.is_empty(), "no guidance for {hook}");
            assert!(
                lines.iter().all(|l| l.trim_start().starts_with("//")),
                "{lines:?}"
            );
        }
        for guidance in [
            "`spec.refunded` is the running total",
            "`spec.this_refund` is this refund's own amount",
            "it proves nothing",
            "`evidence/signatures.json`",
            "Placeholder",
        ] {
            assert!(testing.contains(guidance), "testing.rs lacks {guidance:?}");
        }
    }

    #[test]
    fn a_provider_doc_written_first_is_kept() {
        let root = scratch_root();
        let doc = root.path().join("docs/providers/acme.md");
        write(&doc, "# Acme: facts found first\n").unwrap();
        let out = run(root.path(), "acme").unwrap();
        assert_eq!(out.kept, vec![doc.clone()]);
        assert_eq!(out.created.len(), TEMPLATES.len() - 1);
        assert_eq!(
            std::fs::read_to_string(&doc).unwrap(),
            "# Acme: facts found first\n"
        );
    }

    #[test]
    fn a_second_run_or_a_taken_name_writes_nothing() {
        let root = scratch_root();
        run(root.path(), "acme").unwrap();
        let before = std::fs::read_to_string(root.path().join(REGISTRY)).unwrap();
        assert!(run(root.path(), "acme").unwrap_err().contains("exists already"));
        assert!(run(root.path(), "stripe")
            .unwrap_err()
            .contains("lists \"stripe\" already"));
        assert_eq!(
            std::fs::read_to_string(root.path().join(REGISTRY)).unwrap(),
            before
        );
    }
}
