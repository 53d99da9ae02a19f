//! The payer's pages: My Usage (usage, filters, receipts made from a selection) and a receipt
//! with its PDF.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use payments_store::UsageCursor;

use super::filters::{keyset_page, payment_reference, DateRange, Direction, PAGE_SIZE};
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
    /// The later page: after the record at `ENDED_AT.ID` (keyset paging).
    after: Option<String>,
    /// The earlier page: before the record at `ENDED_AT.ID`.
    before: Option<String>,
}

/// The newest receipts and billed records My Usage lists (each receipt lists its own lines).
const NEWEST: i64 = 50;

/// `ENDED_AT.ID` of a record, as the paging links carry it.
fn position(u: &payments_store::UsageRow) -> String {
    format!("{}.{}", u.ended_at, u.id)
}

/// Where the list starts, from `after` / `before`; a value that is not a position is named in
/// `problems` and the list starts at the beginning.
fn cursor(q: &MeQuery, problems: &mut Vec<String>) -> UsageCursor {
    let parse = |v: &str| -> Option<(i64, i64)> {
        let (e, id) = v.split_once('.')?;
        Some((e.parse().ok()?, id.parse().ok()?))
    };
    fn given(v: Option<&String>) -> Option<&str> {
        v.map(|s| s.trim()).filter(|s| !s.is_empty())
    }
    let (text, at): (&str, fn(i64, i64) -> UsageCursor) =
        match (given(q.after.as_ref()), given(q.before.as_ref())) {
            (Some(a), _) => (a, UsageCursor::After),
            (None, Some(b)) => (b, UsageCursor::Before),
            (None, None) => return UsageCursor::First,
        };
    parse(text).map(|(e, id)| at(e, id)).unwrap_or_else(|| {
        problems.push(format!(
            "{:?} is not a position in this list; showing its beginning",
            payments_app::logsafe::bounded(text)
        ));
        UsageCursor::First
    })
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
    let at = cursor(q, &mut problems);
    let cancelled = payment_reference(q.cancelled.as_deref());
    let (since, until) = (range.start, range.end);
    // One page of the unbilled records (one more to know whether there is another), their count
    // and total, the newest billed records and receipts: bounded reads, whatever the history.
    let (shown, totals, billed, (receipts, receipt_count), cancelled) = state
        .db(move |s| {
            // Only the user's own payment, and only while its receipt is still unpaid.
            let cancelled = match cancelled {
                Some(pid) => match s.payment_by_public_id(&pid)? {
                    Some(p) => s
                        .receipt(p.receipt_id)?
                        .filter(|r| r.user_id == uid && r.status == "unpaid")
                        .map(|_| p),
                    None => None,
                },
                None => None,
            };
            Ok((
                s.unbilled_page(uid, since, until, at, PAGE_SIZE + 1)?,
                s.unbilled_totals(uid, since, until)?,
                s.billed_recent(uid, since, until, NEWEST)?,
                s.receipts_for_user_newest(uid, NEWEST)?,
                cancelled,
            ))
        })
        .await?;
    let direction = match at {
        UsageCursor::First => Direction::Start,
        UsageCursor::After(..) => Direction::Onwards,
        UsageCursor::Before(..) => Direction::Back,
    };
    let (shown, has_earlier, has_later) = keyset_page(shown, PAGE_SIZE, direction);
    let count: i64 = totals.iter().map(|(_, _, n)| n).sum();
    let unbilled_total: Vec<String> = totals
        .iter()
        .map(|(code, minor, _)| {
            payments_core::Currency::from_code(code)
                .map(|c| payments_core::Money::new(*minor, c).to_string())
                .map_err(|e| AppError::Internal(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let mut ctx = page_context(state, session, Some(user))?;
    if let Some(notice) = crate::routes::session::take_login_notice(session) {
        ctx.insert("login_notice", &notice);
    }
    // Only for the user's own payments, and only while the receipt is still unpaid.
    if let Some(p) = cancelled {
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
    let href = |key: &str, value: String| {
        let mut params = form_urlencoded::Serializer::new(String::new());
        if !range.from.is_empty() {
            params.append_pair("from", &range.from);
        }
        if !range.to.is_empty() {
            params.append_pair("to", &range.to);
        }
        params.append_pair(key, &value);
        format!("/me?{}", params.finish())
    };
    if let (true, Some(first)) = (has_earlier, shown.first()) {
        ctx.insert("earlier_href", &href("before", position(first)));
    }
    if let (true, Some(last)) = (has_later, shown.last()) {
        ctx.insert("later_href", &href("after", position(last)));
    }
    // Where a refused form returns to: this very page.
    match at {
        UsageCursor::After(..) => ctx.insert("after", &q.after.clone().unwrap_or_default()),
        UsageCursor::Before(..) => ctx.insert("before", &q.before.clone().unwrap_or_default()),
        UsageCursor::First => {}
    }
    ctx.insert("range", &range);
    ctx.insert("filtered", &range.is_set());
    ctx.insert("unbilled_count", &count);
    ctx.insert("unbilled_shown", &shown.len());
    ctx.insert(
        "unbilled_total",
        &(!unbilled_total.is_empty()).then(|| unbilled_total.join(" + ")),
    );
    // What the selection total starts at, and what the script needs to format it.
    let currency = shown.first().map(|u| u.cost()).transpose()?.map(|m| m.currency);
    ctx.insert(
        "selection_zero",
        &currency.map(|c| payments_core::Money::new(0, c).to_string()),
    );
    ctx.insert("currency", &currency.map(|c| c.code()));
    ctx.insert("exponent", &currency.map(|c| c.exponent()));
    ctx.insert("unbilled", &views(&shown, UsageView::from)?);
    ctx.insert("billed", &views(&billed, UsageView::from)?);
    ctx.insert("billed_limit", &NEWEST);
    ctx.insert("receipt_count", &receipt_count);
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
            after: form.get("after").map(str::to_string),
            before: form.get("before").map(str::to_string),
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
