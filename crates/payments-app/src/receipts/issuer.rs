//! Who issues the receipts, and what may be printed as such.

/// The organisation receipts are issued by (`ISSUER_NAME`, `ISSUER_ADDRESS`, `ISSUER_TAX_ID` in
/// the server's configuration). All optional (a receipt without them says that no issuer is
/// configured); when an address or tax id is given the name is required.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Issuer {
    pub name: Option<String>,
    /// The address, one entry a line, blank lines dropped.
    pub address: Vec<String>,
    pub tax_id: Option<String>,
}

/// The longest issuer name or address line accepted.
const TEXT_MAX: usize = 120;
/// The most address lines accepted.
const ADDRESS_LINES: usize = 8;
/// The longest tax id accepted.
const TAX_ID_MAX: usize = 40;

/// One line of issuer text: at most `TEXT_MAX` characters, no control characters.
fn line(line: &str) -> Result<(), String> {
    if line.chars().any(char::is_control) {
        return Err("no control characters (tabs, escape codes)".into());
    }
    let len = line.chars().count();
    if len > TEXT_MAX {
        return Err(format!("at most {TEXT_MAX} characters a line (got {len})"));
    }
    Ok(())
}

impl Issuer {
    /// The name as printed; the error says what is expected.
    pub fn check_name(name: &str) -> Result<String, String> {
        line(name)
            .map(|()| name.to_string())
            .map_err(|e| format!("one line of text: {e}"))
    }

    /// The address lines: separated by `\n` as written in a shell or unit file, or by real line
    /// breaks (a quoted `.env` value); blank lines dropped.
    pub fn parse_address(address: &str) -> Result<Vec<String>, String> {
        let lines: Vec<String> = address
            .replace("\\n", "\n")
            .split('\n')
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        let problem = if lines.len() > ADDRESS_LINES {
            Some(format!("at most {ADDRESS_LINES} lines (got {})", lines.len()))
        } else {
            lines
                .iter()
                .enumerate()
                .find_map(|(i, l)| line(l).err().map(|e| format!("line {}: {e}", i + 1)))
        };
        match problem {
            None => Ok(lines),
            Some(e) => Err(format!("the postal address, lines separated by \\n: {e}")),
        }
    }

    /// A tax id (VAT, TIN, ...): letters, digits, spaces and `-./`, at most `TAX_ID_MAX`.
    pub fn check_tax_id(tax_id: &str) -> Result<String, String> {
        let allowed = |c: char| c.is_alphanumeric() || " -./".contains(c);
        if tax_id.chars().count() <= TAX_ID_MAX && tax_id.chars().all(allowed) {
            Ok(tax_id.to_string())
        } else {
            Err(format!(
                "letters, digits, spaces and -./ only, at most {TAX_ID_MAX} characters"
            ))
        }
    }
}
