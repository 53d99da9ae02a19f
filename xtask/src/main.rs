#![doc = include_str!("../README.md")]

mod layers;
mod names;
mod new_adapter;
mod registration;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask new-adapter <name>   (a lower-case name such as `acme`)\n       cargo xtask layers               (what each module uses; the layering checks)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["new-adapter", name] => match new_adapter::run(&root, name) {
            Ok(out) => {
                for path in &out.created {
                    println!("created  {}", path.strip_prefix(&root).unwrap_or(path).display());
                }
                for path in &out.kept {
                    println!(
                        "kept     {} (written before; not overwritten)",
                        path.strip_prefix(&root).unwrap_or(path).display()
                    );
                }
                for path in &out.changed {
                    println!("changed  {}", path.strip_prefix(&root).unwrap_or(path).display());
                }
                println!(
                    "\nNext: `cargo test -p payments-{name}` runs the conformance suite, which fails until the \
                     adapter is implemented and crates/payments-{name}/evidence/ holds the provider's published \
                     payloads, signature vectors and example requests (its README.md says what goes where); \
                     docs/writing-an-adapter.md walks through it."
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        ["layers"] => match layers::run(&root) {
            Ok(problems) if problems.is_empty() => {
                println!("\nlayers: no circle of imports, nothing under crates/ depends on bins/web, no web crate in payments-app");
                ExitCode::SUCCESS
            }
            Ok(problems) => {
                for p in problems {
                    eprintln!("problem: {p}");
                }
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
