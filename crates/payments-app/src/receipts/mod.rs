//! The receipt document: what a receipt says ([`ReceiptDoc`], built once for the page and the
//! PDF), who issues it ([`Issuer`]), the PDF itself, everything a receipt page shows
//! ([`ReceiptRecord`]) and lists of receipts as CSV (`export`).

mod document;
pub mod export;
mod issuer;
pub mod pdf;
mod record;

pub use document::{
    receipt_status_text, refund_state, rounding_rule, DisputeEntry, LineItem, PaymentEntry, ReceiptDoc,
    RefundEntry,
};
pub use issuer::Issuer;
pub use record::{Lines, ReceiptLines, ReceiptRecord, LINES_PER_READ};
