//! All receipts: filters, totals per currency, pages, and the same selection as CSV.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use payments_app::receipts::export;
use serde::Deserialize;

use super::require_admin;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::routes::body::ChannelBody;
use crate::routes::filters::{
    id_cursor, id_direction, keyset_page, text_filter, DateRange, MAX_FILTER_TEXT, PAGE_SIZE,
};
use crate::routes::page::{html, page_context};
use crate::routes::views::{views, ReceiptView};
use crate::state::AppState;

/// The admin receipt list's filters, read as text so that a bad value shows the page with a
/// message.
#[derive(Deserialize)]
pub struct ReceiptParams {
    /// Older receipts: below this receipt number (keyset paging).
    before: Option<String>,
    /// Newer receipts: above this receipt number.
    after: Option<String>,
    status: Option<String>,
    user: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    provider: Option<String>,
}

const RECEIPT_STATUSES: &[&str] = &["unpaid", "paid", "partially_refunded", "refunded", "void"];
/// The providers a receipt's payments can name here (enabled and retired).
fn provider_names(state: &AppState) -> Vec<String> {
    state
        .app
        .providers()
        .all()
        .map(|p| p.provider.name().to_string())
        .collect()
}

/// The filter of the list's query, with what was wrong in it noted in `problems`.
fn receipt_filter(
    state: &AppState,
    q: &ReceiptParams,
    problems: &mut Vec<String>,
) -> Result<payments_store::ReceiptFilter, AppError> {
    Ok(receipt_filter_and_range(state, q, problems)?.0)
}

fn receipt_filter_and_range(
    state: &AppState,
    q: &ReceiptParams,
    problems: &mut Vec<String>,
) -> Result<(payments_store::ReceiptFilter, DateRange), AppError> {
    let status = q
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|st| {
            if RECEIPT_STATUSES.contains(&st) {
                Some(st.to_string())
            } else {
                problems.push(format!(
                    "status {:?} is not a receipt status (one of {}), so it is not applied",
                    payments_app::logsafe::bounded(st),
                    RECEIPT_STATUSES.join(", ")
                ));
                None
            }
        });
    let username = text_filter(q.user.as_deref(), "User", problems)?;
    let search = text_filter(q.q.as_deref(), "The search text", problems)?;
    let range = DateRange::parse(q.from.as_deref(), q.to.as_deref(), problems);
    let known = provider_names(state);
    let provider = q
        .provider
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .and_then(|p| {
            if known.iter().any(|k| k == p) {
                Some(p.to_string())
            } else {
                problems.push(format!(
                    "provider {:?} is not one of {}, so it is not applied",
                    payments_app::logsafe::bounded(p),
                    known.join(", ")
                ));
                None
            }
        });
    let filter = payments_store::ReceiptFilter {
        provider,
        status,
        username,
        since: range.start,
        until: range.end,
        search,
    };
    Ok((filter, range))
}

/// The query string that reproduces a filter (without the position).
fn receipt_filter_params(
    f: &payments_store::ReceiptFilter,
    range: &DateRange,
) -> form_urlencoded::Serializer<'static, String> {
    let mut params = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("status", f.status.as_deref()),
        ("user", f.username.as_deref()),
        ("from", Some(range.from.as_str()).filter(|v| !v.is_empty())),
        ("to", Some(range.to.as_str()).filter(|v| !v.is_empty())),
        ("q", f.search.as_deref()),
        ("provider", f.provider.as_deref()),
    ] {
        if let Some(v) = v {
            params.append_pair(k, v);
        }
    }
    params
}

pub async fn admin_receipts(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    q: web::Query<ReceiptParams>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut problems = Vec::new();
    let (filter, range) = receipt_filter_and_range(&state, &q, &mut problems)?;
    let cursor = id_cursor(
        q.before.as_deref(),
        q.after.as_deref(),
        "is not a receipt number; showing the newest receipts",
        &mut problems,
    );
    // One page (one more to know whether there is another), and the count and money of the
    // whole filtered set counted and summed by the database: no row beyond the page is loaded.
    let (f, g) = (filter.clone(), filter.clone());
    let (shown, sums) = state
        .db(move |s| Ok((s.receipts_page(&f, cursor, PAGE_SIZE + 1)?, s.receipt_totals(&g)?)))
        .await?;
    let (shown, has_newer, has_older) = keyset_page(shown, PAGE_SIZE, id_direction(cursor));
    // `None`: a provider or search filter matching more receipts than are added up on a page.
    let count: Option<i64> = sums.as_ref().map(|sums| sums.iter().map(|s| s.receipts).sum());
    let base = receipt_filter_params(&filter, &range).finish();
    let mut ctx = page_context(&state, &session, Some(&user))?;
    if let Some(notice) = crate::routes::session::take_login_notice(&session) {
        ctx.insert("login_notice", &notice);
    }
    if !problems.is_empty() {
        ctx.insert("error", &problems.join(" "));
    }
    let href = |key: &str, id: i64| {
        let mut p = receipt_filter_params(&filter, &range);
        p.append_pair(key, &id.to_string());
        format!("/admin/receipts?{}", p.finish())
    };
    if let (true, Some((first, _))) = (has_newer, shown.first()) {
        ctx.insert("newer_href", &href("after", first.id));
    }
    if let (true, Some((last, _))) = (has_older, shown.last()) {
        ctx.insert("older_href", &href("before", last.id));
    }
    ctx.insert("count", &count);
    ctx.insert("totals_bound", &payments_store::RECEIPT_TOTALS_BOUND);
    ctx.insert(
        "totals",
        &export::money_totals(sums.as_deref().unwrap_or_default())?,
    );
    ctx.insert(
        "csv_href",
        &if base.is_empty() {
            "/admin/receipts.csv".to_string()
        } else {
            format!("/admin/receipts.csv?{base}")
        },
    );
    ctx.insert("filtered", &!base.is_empty());
    let labels: Vec<(&str, String)> = RECEIPT_STATUSES
        .iter()
        .map(|s| {
            let mut words = s.replace('_', " ");
            words[..1].make_ascii_uppercase();
            (*s, words)
        })
        .collect();
    ctx.insert("statuses", &labels);
    ctx.insert("providers", &provider_names(&state));
    ctx.insert("provider_filter", &filter.provider.clone().unwrap_or_default());
    ctx.insert("status", &filter.status.clone().unwrap_or_default());
    ctx.insert("user_filter", &filter.username.clone().unwrap_or_default());
    ctx.insert("search", &filter.search.clone().unwrap_or_default());
    ctx.insert("range", &range);
    ctx.insert("max_text", &MAX_FILTER_TEXT);
    let ids: Vec<i64> = shown.iter().map(|(r, _)| r.id).collect();
    let (money, paid_twice) = state
        .db(move |s| Ok((s.receipt_money(&ids)?, s.receipts_paid_twice(&ids)?)))
        .await?;
    let mut receipts = views(&shown, |(r, owner)| {
        ReceiptView::with_money(r, owner, money.get(&r.id))
    })?;
    for r in &mut receipts {
        r.paid_twice = paid_twice.contains(&r.id);
    }
    ctx.insert("receipts", &receipts);
    Ok(html(state.templates.render("admin_receipts.html", &ctx)?))
}

/// The filtered set as CSV: amounts as decimal strings built from the integer minor units.
pub async fn admin_receipts_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    q: web::Query<ReceiptParams>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut problems = Vec::new();
    let filter = receipt_filter(&state, &q, &mut problems)?;
    if !problems.is_empty() {
        return Err(AppError::BadRequest(problems.join(" ")));
    }
    // Every matching receipt, however many: written in chunks by a blocking task as the client
    // reads (a bounded channel), so memory stays constant.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(4);
    let store = state.store().clone();
    tokio::task::spawn_blocking(move || {
        let sent = export::stream_csv(&store, &filter, CSV_CHUNK, |text| {
            tx.blocking_send(Ok(web::Bytes::from(text))).is_ok()
        });
        if let Err(e) = sent {
            // Cut the download short rather than end it as if it were complete.
            tracing::error!(error = %e, "the receipts CSV stopped early");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"receipts.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(ChannelBody(rx)))
}

/// Receipts per chunk of the streamed CSV.
const CSV_CHUNK: i64 = 1_000;

/// `POST /admin/receipts/{id}/void`: voids an unpaid receipt with the admin's reason (audited
/// `receipt.void`); its usage becomes unbilled again.
pub async fn void_receipt(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    form: crate::auth::CsrfForm,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let reason = form.get("reason").unwrap_or_default().trim().to_string();
    payments_core::refuse_nul("the reason", &reason)?;
    let actor = user.actor();
    let (_, freed) = state.db(move |s| s.void_receipt(id, &reason, &actor)).await?;
    tracing::info!(receipt = id, records = freed, "receipt voided");
    Ok(crate::routes::page::see_other(&format!(
        "/receipts/{id}#void-notice"
    )))
}
