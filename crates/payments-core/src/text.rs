//! Text from outside that no store may hold: a NUL character (U+0000). PostgreSQL refuses it in
//! a text column (the insert fails, so the request would end in a 500) while SQLite stores it;
//! such text is refused before it reaches either, the same way on both, naming where it was.

/// Text holding a NUL character, and where it was found (`the event id`, `the form field note`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} contains a NUL character (U+0000, %00 in a URL or form), which is not accepted")]
pub struct NulText {
    pub what: String,
}

/// `Ok` when `value` holds no NUL character, else a [`NulText`] naming `what`.
pub fn refuse_nul(what: &str, value: &str) -> Result<(), NulText> {
    if value.contains('\0') {
        Err(NulText {
            what: what.to_string(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_anywhere_is_refused_and_named() {
        assert_eq!(refuse_nul("the event id", "evt_1"), Ok(()));
        assert_eq!(refuse_nul("the event id", ""), Ok(()));
        for bad in ["\0", "evt\0", "\0evt", "e\0v\0t"] {
            let e = refuse_nul("the event id", bad).unwrap_err();
            assert_eq!(e.what, "the event id");
            assert!(
                e.to_string().starts_with("the event id contains a NUL character"),
                "{e}"
            );
        }
    }
}
