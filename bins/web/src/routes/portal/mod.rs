//! The payer's pages: My Usage (usage, filters, receipts made from a selection) and a receipt
//! with its PDF.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::filters::{page_from_text, page_links, payment_reference, DateRange, PAGE_SIZE};
use super::page::{html, page_context, see_other};
use super::views::{views, ReceiptView, UsageView};
use crate::auth::{CsrfForm, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;

pub mod receipt;

/// `?cancelled=pay_...`: the payer came back from the provider's "cancel" (see the cancel URL
/// `flow::start_payment` gives the provider). `from`/`to` (`YYYY-MM-DD`, UTC, both inclusive)
/// filter the usage by the day the job ended; `page` pages the unbilled usage. All are read as
/// text so that a bad value shows the page with a message rather than a bare 400.
#[derive(Deserialize, Default)]
pub struct MeQuery {
    cancelled: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

pub async fn me(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    q: web::Query<MeQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    render_me(&state, &session, &user, &q, None).await.map(html)
}

/// My Usage, with `error` shown above it (a refused form, a bad filter).
async fn render_me(
    state: &web::Data<AppState>,
    session: &Session,
    user: &CurrentUser,
    q: &MeQuery,
    error: Option<String>,
) -> Result<String, AppError> {
    let uid = user.id();
    let mut problems: Vec<String> = error.into_iter().collect();
    let range = DateRange::parse(q.from.as_deref(), q.to.as_deref(), &mut problems);
    let page = page_from_text(q.page.as_deref(), &mut problems);
    let cancelled = payment_reference(q.cancelled.as_deref());
    let (usage, receipts, cancelled) = state
        .db(move |s| {
            let cancelled = match cancelled {
                Some(pid) => s.payment_by_public_id(&pid)?,
                None => None,
            };
            Ok((s.usage_for_user(uid)?, s.receipts_for_user(uid)?, cancelled))
        })
        .await?;
    let (mut unbilled, billed): (Vec<_>, Vec<_>) = usage
        .into_iter()
        .filter(|u| range.contains(u.ended_at))
        .partition(|u| u.receipt_id.is_none());
    unbilled.sort_by(|a, b| (a.ended_at, &a.job_id, a.id).cmp(&(b.ended_at, &b.job_id, b.id)));
    let count = unbilled.len() as i64;
    let pages = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = if page > pages {
        problems.push(format!(
            "Page {page} does not exist: this list has {pages} page{}; showing page {pages}",
            if pages == 1 { "" } else { "s" }
        ));
        pages
    } else {
        page
    };
    let start = ((page - 1) * PAGE_SIZE) as usize;
    let shown = &unbilled[start.min(unbilled.len())..(start + PAGE_SIZE as usize).min(unbilled.len())];
    let unbilled_total = payments_app::usage::total_cost(&unbilled)?;
    let mut ctx = page_context(state, session, Some(user))?;
    if let Some(notice) = crate::routes::session::take_login_notice(session) {
        ctx.insert("login_notice", &notice);
    }
    // Only for the user's own payments, and only while the receipt is still unpaid.
    if let Some(p) = cancelled.filter(|p| {
        receipts
            .iter()
            .any(|r| r.id == p.receipt_id && r.status == "unpaid")
    }) {
        ctx.insert(
            "notice",
            &format!(
                "You cancelled the payment of {} for receipt #{}; nothing was charged. The receipt stays unpaid: pay it whenever you are ready.",
                p.amount()?,
                p.receipt_id
            ),
        );
        ctx.insert("retry_receipt", &p.receipt_id);
    }
    if !problems.is_empty() {
        ctx.insert("error", &problems.join(" "));
    }
    let href = |n: i64| {
        let mut params = form_urlencoded::Serializer::new(String::new());
        if !range.from.is_empty() {
            params.append_pair("from", &range.from);
        }
        if !range.to.is_empty() {
            params.append_pair("to", &range.to);
        }
        params.append_pair("page", &n.to_string());
        format!("/me?{}", params.finish())
    };
    ctx.insert("page_links", &page_links(page, pages, href));
    ctx.insert("page", &page);
    ctx.insert("pages", &pages);
    ctx.insert("range", &range);
    ctx.insert("filtered", &range.is_set());
    ctx.insert("unbilled_count", &count);
    ctx.insert("unbilled_total", &unbilled_total.map(|m| m.to_string()));
    // What the selection total starts at, and what the script needs to format it.
    let currency = shown.first().map(|u| u.cost()).transpose()?.map(|m| m.currency);
    ctx.insert(
        "selection_zero",
        &currency.map(|c| payments_core::Money::new(0, c).to_string()),
    );
    ctx.insert("currency", &currency.map(|c| c.code()));
    ctx.insert("exponent", &currency.map(|c| c.exponent()));
    ctx.insert("unbilled", &views(shown, UsageView::from)?);
    ctx.insert("billed", &views(&billed, UsageView::from)?);
    let ids: Vec<i64> = receipts
        .iter()
        .filter(|r| r.status != "unpaid")
        .map(|r| r.id)
        .collect();
    let money = state.db(move |s| s.receipt_money(&ids)).await?;
    ctx.insert(
        "receipts",
        &views(&receipts, |r| {
            ReceiptView::with_money(r, &user.0.username, money.get(&r.id))
        })?,
    );
    state.templates.render("me.html", &ctx)
}

/// `POST /receipts/all`: one receipt for every unbilled record of the user (in the dates of the
/// list's filter, when it has one), made on the server in one transaction whatever their number.
pub async fn create_receipt_for_all(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    form: CsrfForm,
) -> Result<HttpResponse, AppError> {
    let mut problems = Vec::new();
    let range = DateRange::parse(form.get("from"), form.get("to"), &mut problems);
    if !problems.is_empty() {
        let q = MeQuery {
            from: form.get("from").map(str::to_string),
            to: form.get("to").map(str::to_string),
            ..MeQuery::default()
        };
        let body = render_me(&state, &session, &user, &q, None).await?;
        return Ok(HttpResponse::UnprocessableEntity()
            .content_type("text/html; charset=utf-8")
            .body(body));
    }
    let (uid, actor, since, until) = (user.id(), user.actor(), range.start, range.end);
    let (receipt, records) = state
        .db(move |s| s.create_receipt_for_unbilled(uid, since, until, &actor))
        .await?;
    tracing::info!(receipt = receipt.id, records, user = %payments_app::logsafe::bounded(&user.0.username), "receipt created for all unbilled usage");
    Ok(see_other(&format!("/receipts/{}", receipt.id)))
}

pub async fn create_receipt(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    form: CsrfForm,
) -> Result<HttpResponse, AppError> {
    let ids = form
        .get_all("record")
        .into_iter()
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| AppError::BadRequest(format!("record {v:?} is not a record id")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        // Show the list again (same filter and page) with a message, not a bare 400.
        let q = MeQuery {
            from: form.get("from").map(str::to_string),
            to: form.get("to").map(str::to_string),
            page: form.get("page").map(str::to_string),
            ..MeQuery::default()
        };
        let body = render_me(
            &state,
            &session,
            &user,
            &q,
            Some("Nothing was selected: tick the usage records to bill (or use \"Select all\"), then press \"Create receipt from selected\".".into()),
        )
        .await?;
        return Ok(HttpResponse::UnprocessableEntity()
            .content_type("text/html; charset=utf-8")
            .body(body));
    }
    let (uid, actor) = (user.id(), user.actor());
    let receipt = state
        .db(move |s| s.create_receipt_from_usage(uid, &ids, &actor))
        .await?;
    tracing::info!(receipt = receipt.id, user = %payments_app::logsafe::bounded(&user.0.username), "receipt created");
    Ok(see_other(&format!("/receipts/{}", receipt.id)))
}
