//! Tera templates, embedded in the binary so it runs from any directory.

use tera::{Context, Tera};

use crate::error::AppError;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    ("login.html", include_str!("../../../templates/login.html")),
    ("me.html", include_str!("../../../templates/me.html")),
    ("receipt.html", include_str!("../../../templates/receipt.html")),
    (
        "receipt_parties.html",
        include_str!("../../../templates/receipt_parties.html"),
    ),
    (
        "receipt_charges.html",
        include_str!("../../../templates/receipt_charges.html"),
    ),
    (
        "receipt_payments.html",
        include_str!("../../../templates/receipt_payments.html"),
    ),
    (
        "admin_receipts.html",
        include_str!("../../../templates/admin_receipts.html"),
    ),
    (
        "admin_audit.html",
        include_str!("../../../templates/admin_audit.html"),
    ),
    ("thanks.html", include_str!("../../../templates/thanks.html")),
    ("simulate.html", include_str!("../../../templates/simulate.html")),
    (
        "refund_confirm.html",
        include_str!("../../../templates/refund_confirm.html"),
    ),
    ("error.html", include_str!("../../../templates/error.html")),
];

/// The site's icon (a 32x32 PNG in an ICO container).
pub const FAVICON: &[u8] = include_bytes!("../../../templates/favicon.ico");
pub const CSS: &str = include_str!("../../../templates/app.css");
/// The thanks page's status poller (no inline scripts: see the Content-Security-Policy).
pub const THANKS_JS: &str = include_str!("../../../templates/thanks.js");
/// My Usage's "select all / none" and selection total.
pub const USAGE_JS: &str = include_str!("../../../templates/usage.js");

#[derive(Debug)]
pub struct Templates(Tera);

impl Templates {
    pub fn load() -> Result<Templates, tera::Error> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES.iter().copied())?;
        tera.autoescape_on(vec![".html"]);
        Ok(Templates(tera))
    }

    pub fn render(&self, name: &str, ctx: &Context) -> Result<String, AppError> {
        Ok(self.0.render(name, ctx)?)
    }
}
