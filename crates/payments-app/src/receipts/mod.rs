//! The receipt document: what a receipt says ([`ReceiptDoc`], built once for the page and the
//! PDF), who issues it ([`Issuer`]), and the PDF itself.

mod document;
mod issuer;
pub mod pdf;

pub use document::{rounding_rule, LineItem, PaymentEntry, ReceiptDoc};
pub use issuer::Issuer;
