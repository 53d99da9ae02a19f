//! A receipt: its page (line items, payments, refunds, disputes, "Pay now", the admin's refund
//! forms) and its PDF, for its owner and admins only.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use payments_app::receipts::pdf::{self, PdfError};
use payments_app::receipts::{ReceiptLines, ReceiptRecord};
use payments_app::refunds::RetryOffer;
use payments_store::{PaymentRow, RefundRow};
use serde::{Deserialize, Serialize};

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::routes::body::ChunkWriter;
use crate::routes::filters::payment_reference;
use crate::routes::page::{html, page_context};
use crate::routes::views::{views, DisputeView, ReceiptView, RefundView};
use crate::state::AppState;

/// What went wrong when "Pay now" was pressed (set by `payments::start`; only these fixed codes
/// are shown, so a crafted link cannot put words on the page).
#[derive(Deserialize)]
pub struct ReceiptQuery {
    problem: Option<String>,
    /// `?refund=N` after an admin's refund: the page says how it went.
    refund: Option<i64>,
    /// `&again=1`: the confirmation was posted again; it made no second refund.
    again: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    /// The next page of lines: after the line with this id.
    lines_after: Option<String>,
}

/// Lines shown on a receipt page at a time (the PDF has them all, read as many at a time).
const LINES_PER_PAGE: i64 = payments_app::receipts::LINES_PER_READ;

/// Receipt `id` with everything shown on it, if `user` may see it (the owner or an admin;
/// anyone else gets the same 404 as for a receipt that does not exist).
async fn load_receipt(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    lines: payments_app::receipts::Lines,
) -> Result<ReceiptRecord, AppError> {
    let data = ReceiptRecord::load(&state.app, id, lines)
        .await?
        .ok_or(AppError::NotFound)?;
    user.may_access(data.receipt.user_id)?;
    Ok(data)
}

/// A way to pay shown on the receipt.
#[derive(Serialize)]
struct OfferView {
    provider: &'static str,
    label: String,
    refused: Option<String>,
}

/// The enabled providers for `receipt`, offered ones first, in `PAYMENT_ROUTING` order for its
/// currency (see `payments_app::checkout::offers`).
pub fn offers_for(
    state: &AppState,
    receipt: &payments_store::ReceiptRow,
) -> Result<Vec<payments_app::checkout::Offer>, AppError> {
    let amount = receipt.total()?;
    let routed = state
        .config
        .routing
        .for_currency(amount.currency.code(), &state.config.providers);
    Ok(payments_app::checkout::offers(&state.app, amount, &routed))
}

/// The name receipts are issued under when `ISSUER_NAME` is not set.
pub const SITE_NAME: &str = "HPC Usage Portal";

pub async fn receipt(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<i64>,
    q: web::Query<ReceiptQuery>,
) -> Result<HttpResponse, AppError> {
    let after = q
        .lines_after
        .as_deref()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v > 0);
    let lines = payments_app::receipts::Lines::Page {
        after,
        limit: LINES_PER_PAGE,
    };
    let data = load_receipt(&state, &user, path.into_inner(), lines).await?;
    let doc = data.document(state.app.settings())?;
    let r = &data.receipt;
    // How the receipt can be paid: each enabled provider, offered or (for admins) why not; a
    // provider that refused this amount at the last attempt is not offered again.
    let mut offers = if r.status == "unpaid" {
        offers_for(&state, r)?
    } else {
        Vec::new()
    };
    let mut last_error = None;
    for offer in &mut offers {
        if let Some((refused, error)) = data.last_intent_error(offer.provider) {
            if let (Some(why), None) = (refused, &offer.refused) {
                offer.refused = Some(why);
            }
            last_error = Some(error);
        }
    }
    offers.sort_by_key(|o| o.refused.is_some());
    let offer_views: Vec<OfferView> = offers
        .iter()
        .map(|o| OfferView {
            provider: o.provider,
            label: crate::routes::page::display_name(o.provider),
            refused: o.refused.clone(),
        })
        .collect();
    let mut ctx = page_context(&state, &session, Some(&user))?;
    ctx.insert("line_count", &data.line_count);
    ctx.insert(
        "lines_later",
        &data
            .more_after
            .map(|id| format!("/receipts/{}?lines_after={id}#lines", r.id)),
    );
    ctx.insert("lines_paged", &after.is_some());
    ctx.insert("receipt", &ReceiptView::from(r, &data.owner)?);
    ctx.insert("owner", &data.owner);
    ctx.insert("doc", &doc);
    ctx.insert("site_name", SITE_NAME);
    ctx.insert("offers", &offer_views);
    ctx.insert(
        "offered",
        &offer_views.iter().filter(|o| o.refused.is_none()).count(),
    );
    ctx.insert(
        "problem",
        &q.problem
            .as_deref()
            .filter(|p| ["unavailable", "amount"].contains(p)),
    );
    ctx.insert("reference", &payment_reference(q.reference.as_deref()));
    let entry = |id: i64| doc.refunds.iter().find(|e| e.id == id);
    let mut refund_views = views(&data.refunds, |r| RefundView::from(&state.app, r, entry(r.id)))?;
    refund_views.sort_by_key(|r| r.number);
    ctx.insert("refunds", &refund_views);
    // Only the owner pays a receipt; an admin looking at someone else's is told whose it is.
    ctx.insert("is_owner", &(user.id() == r.user_id));
    if let Some((reason, by, at)) = data.void_reason() {
        ctx.insert("void_reason", &reason);
        ctx.insert("voided_by", &by);
        ctx.insert("voided_at", &payments_app::format::format_time(at));
    }
    ctx.insert("disputes", &views(&data.disputes, DisputeView::from)?);
    ctx.insert("second_payments", &second_payments(&data.payments)?);
    let second_ids: Vec<&str> = data
        .payments
        .iter()
        .filter(|p| p.second_payment)
        .map(|p| p.public_id.as_str())
        .collect();
    ctx.insert("second_ids", &second_ids);
    ctx.insert(
        "refund_notice",
        &refund_notice(&state.app, &data.refunds, &doc, q.refund, q.again.is_some())?,
    );
    if user.is_admin() {
        ctx.insert("operator_error", &last_error);
        // Payments through a provider this server no longer has are shown read-only.
        let (here, gone): (Vec<PaymentRow>, Vec<PaymentRow>) = data
            .payments
            .iter()
            .cloned()
            .partition(|p| state.app.provider(&p.provider).is_ok());
        let mut read_only: Vec<String> = gone.into_iter().map(|p| p.provider).collect();
        read_only.dedup();
        ctx.insert("read_only", &read_only);
        ctx.insert("refund_forms", &refund_forms(&here, &data.refunds)?);
    } else {
        ctx.insert("refund_forms", &Vec::<RefundFormView>::new());
    }
    Ok(html(state.templates.render("receipt.html", &ctx)?))
}

/// `GET /receipts/{id}.pdf`: the receipt as a PDF, for the same people as the page.
///
/// Access is checked and the receipt read (without its lines) before anything is sent; then the
/// PDF is written by a blocking task as the client reads it, its lines read a page at a time
/// (`ReceiptLines`), through a bounded channel of chunks: memory stays a few pages whatever the
/// number of lines. A database failure on the way is logged and cuts the download short.
pub async fn receipt_pdf(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let data = load_receipt(
        &state,
        &user,
        path.into_inner(),
        payments_app::receipts::Lines::None,
    )
    .await?;
    let doc = data.document(state.app.settings())?;
    let number = doc.number;
    let store = state.store().clone();
    let rates = state.app.settings().rates;
    let (sink, body) = ChunkWriter::channel(PDF_CHUNK, PDF_CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let lines = ReceiptLines::new(&store, doc.number, rates);
        let written =
            pdf::write_receipt_pdf(&doc, lines, SITE_NAME, sink).and_then(|sink| Ok(sink.finish()?));
        // Unless `finish` was reached, the body ends with an error: a failed download, never a
        // truncated file that looks whole.
        match written {
            Ok(()) => {}
            Err(PdfError::Write(e)) => {
                tracing::info!(receipt = doc.number, error = %e, "the receipt PDF was not read to its end");
            }
            Err(e @ PdfError::Lines(_)) => {
                tracing::error!(receipt = doc.number, error = %e, "the receipt PDF stopped early");
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"receipt-{number}.pdf\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body))
}

/// Bytes per chunk of a streamed PDF, and chunks written ahead of the client at most.
const PDF_CHUNK: usize = 64 * 1024;
const PDF_CHUNKS_AHEAD: usize = 4;

/// A payment that succeeded after another had paid the receipt (or after it was voided).
#[derive(Serialize)]
struct SecondPaymentView {
    public_id: String,
    amount: String,
    refunded: String,
}

fn second_payments(payments: &[PaymentRow]) -> Result<Vec<SecondPaymentView>, AppError> {
    payments
        .iter()
        .filter(|p| p.second_payment)
        .map(|p| {
            Ok(SecondPaymentView {
                public_id: p.public_id.clone(),
                amount: p.amount()?.to_string(),
                refunded: p.refunded()?.to_string(),
            })
        })
        .collect()
}

/// The admin's refund form for a paid payment with something left to refund.
#[derive(Serialize)]
struct RefundFormView {
    public_id: String,
    paid: String,
    remaining: String,
    remaining_plain: String,
    currency: String,
    /// A second payment for the receipt (see `PaymentRow::second_payment`).
    second: bool,
    /// The payment's provider.
    provider: String,
}

fn refund_forms(payments: &[PaymentRow], refunds: &[RefundRow]) -> Result<Vec<RefundFormView>, AppError> {
    let mut forms = Vec::new();
    for p in payments.iter().filter(|p| p.status == "succeeded") {
        let remaining = p.amount_minor - payments_app::refunds::taken_minor(p, refunds);
        if remaining <= 0 {
            continue;
        }
        let left = payments_core::Money::new(remaining, p.amount()?.currency);
        forms.push(RefundFormView {
            public_id: p.public_id.clone(),
            paid: p.amount()?.to_string(),
            remaining: left.to_string(),
            remaining_plain: left.decimal_string(),
            currency: p.currency.clone(),
            second: p.second_payment,
            provider: p.provider.clone(),
        });
    }
    Ok(forms)
}

/// What `?refund=N` (after an admin's refund) says about refund N; `again`: the confirmation
/// page was posted again and made no second refund.
fn refund_notice(
    app: &payments_app::App,
    refunds: &[RefundRow],
    doc: &payments_app::receipts::ReceiptDoc,
    n: Option<i64>,
    again: bool,
) -> Result<Option<String>, AppError> {
    let Some(r) = n.and_then(|n| refunds.iter().find(|r| r.id == n)) else {
        return Ok(None);
    };
    // Refunds are numbered per receipt, as the page and the PDF show them.
    let number = doc.refunds.iter().find(|e| e.id == r.id).map_or(0, |e| e.number);
    let amount = r.amount()?;
    let prefix = if again {
        "This confirmation was already submitted; no second refund was made. "
    } else {
        ""
    };
    Ok(Some(
        prefix.to_string()
            + &match r.status.as_str() {
                "succeeded" => format!("Refund #{number} of {amount} succeeded."),
                "pending" => format!(
                    "Refund #{number} of {amount} was accepted by {} and is pending.",
                    r.provider
                ),
                "failed" => format!(
                    "Refund #{number} of {amount} was refused: {}. Nothing was refunded.",
                    r.error.as_deref().unwrap_or("no reason given")
                ),
                "canceled" => format!("Refund #{number} of {amount} was cancelled. Nothing was refunded."),
                _ => {
                    let next = if RetryOffer::of(app, r) == RetryOffer::Retry {
                        format!(
                            "press Retry: {} is asked first and the refund is sent again only if it has none.",
                            r.provider
                        )
                    } else {
                        format!(
                            "{} cannot be asked about it here: check its dashboard and record what you find below.",
                            r.provider
                        )
                    };
                    format!(
                        "Refund #{number} of {amount} is recorded, but {} did not answer ({}). The amount stays \
                         reserved; {next}",
                        r.provider,
                        r.error.as_deref().unwrap_or("no answer"),
                    )
                }
            },
    ))
}
