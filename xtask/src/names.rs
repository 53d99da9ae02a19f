//! The names one adapter name gives: crate, module, types, variable prefix.

/// Every spelling of a new adapter's name that the templates use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `acme`: `PAYMENT_PROVIDER`, cargo feature, `Adapter::NAME`.
    pub name: String,
    /// `Acme`: type prefix.
    pub camel: String,
    /// `ACME`: variable prefix.
    pub upper: String,
}

impl Names {
    /// `name` must be 2 to 30 lower-case ASCII letters or digits, starting with a letter, and
    /// not a name the workspace uses for something else.
    pub fn new(name: &str) -> Result<Names, String> {
        let ok_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let starts = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !(2..=30).contains(&name.len()) || !ok_chars || !starts {
            return Err(format!(
                "adapter name {name:?}: use 2 to 30 lower-case letters or digits, starting with a letter (e.g. `acme`)"
            ));
        }
        if ["core", "store", "web", "sqlite", "postgres", "default"].contains(&name) {
            return Err(format!("adapter name {name:?} is taken by the workspace"));
        }
        let mut camel = name[..1].to_ascii_uppercase();
        camel.push_str(&name[1..]);
        Ok(Names {
            name: name.to_string(),
            camel,
            upper: name.to_ascii_uppercase(),
        })
    }

    /// `text` with `{{name}}`, `{{Name}}` and `{{NAME}}` replaced.
    pub fn render(&self, text: &str) -> String {
        text.replace("{{name}}", &self.name)
            .replace("{{Name}}", &self.camel)
            .replace("{{NAME}}", &self.upper)
    }
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn spellings() {
        let n = Names::new("acme2").unwrap();
        assert_eq!((n.camel.as_str(), n.upper.as_str()), ("Acme2", "ACME2"));
        assert_eq!(
            n.render("payments_{{name}}::{{Name}}Provider {{NAME}}_KEY"),
            "payments_acme2::Acme2Provider ACME2_KEY"
        );
    }

    #[test]
    fn bad_names_are_refused_with_the_rule() {
        for bad in ["", "a", "Acme", "2co", "ac-me", "store", &"x".repeat(31)] {
            let err = Names::new(bad).unwrap_err();
            assert!(err.contains(bad) || err.contains("taken"), "{bad}: {err}");
        }
    }
}
