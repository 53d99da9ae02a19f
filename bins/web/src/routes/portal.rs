//! The host application's pages: My Usage, receipts, admin lists.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use payments_store::{AuditQuery, DisputeRow, PaymentRow, ReceiptRow, RefundRow, UsageRow};
use serde::{Deserialize, Serialize};

use super::{html, page_context, see_other};
use crate::auth::{CsrfForm, CurrentUser};
use crate::error::AppError;
use crate::receipt_doc::ReceiptDoc;
use crate::state::AppState;
use crate::templates::{format_duration, format_time, format_time_seconds};

const PAGE_SIZE: i64 = 50;
/// The highest page number a list accepts (5 million rows at 50 a page).
pub const MAX_PAGE: i64 = 100_000;

/// A page number from the query: 1 when absent, a clear 400 outside 1..=MAX_PAGE (so the
/// offset never overflows, whatever the database).
pub fn page_number(page: Option<i64>) -> Result<i64, AppError> {
    match page {
        None => Ok(1),
        Some(p) if (1..=MAX_PAGE).contains(&p) => Ok(p),
        Some(p) => Err(AppError::BadRequest(format!(
            "Page {p} does not exist: pages are numbered from 1 to {MAX_PAGE}"
        ))),
    }
}

#[derive(Serialize)]
struct UsageView {
    id: i64,
    job_id: String,
    description: String,
    cpu: String,
    gpu: String,
    ended: String,
    cost: String,
    /// For the selection total the page's script keeps (integer minor units).
    cost_minor: i64,
    receipt_id: Option<i64>,
}

impl UsageView {
    fn from(u: &UsageRow) -> Result<Self, AppError> {
        Ok(UsageView {
            id: u.id,
            job_id: u.job_id.clone(),
            description: u.description.clone(),
            cpu: format_duration(u.cpu_core_seconds),
            gpu: format_duration(u.gpu_seconds),
            ended: format_time(u.ended_at),
            cost: u.cost()?.to_string(),
            cost_minor: u.cost_minor,
            receipt_id: u.receipt_id,
        })
    }
}

#[derive(Serialize)]
struct ReceiptView {
    id: i64,
    owner: String,
    created: String,
    paid: Option<String>,
    status: String,
    total: String,
    /// A dispute was recorded against one of its payments (admin list).
    disputed: bool,
}

impl ReceiptView {
    fn from(r: &ReceiptRow, owner: &str) -> Result<Self, AppError> {
        Ok(ReceiptView {
            id: r.id,
            owner: owner.to_string(),
            created: format_time(r.created_at),
            paid: r.paid_at.map(format_time),
            status: r.status.clone(),
            total: r.total()?.to_string(),
            disputed: false,
        })
    }
}

#[derive(Serialize)]
struct RefundView {
    id: i64,
    created: String,
    amount: String,
    status: String,
    error: Option<String>,
    origin_text: String,
    reason: String,
    external_id: String,
    retryable: bool,
}

impl RefundView {
    fn from(r: &RefundRow) -> Result<Self, AppError> {
        Ok(RefundView {
            id: r.id,
            created: format_time(r.created_at),
            amount: r.amount()?.to_string(),
            status: r.status.clone(),
            error: r.error.clone(),
            origin_text: if r.origin == "admin" {
                r.requested_by.trim_start_matches("user:").to_string()
            } else {
                format!("at {}", r.provider)
            },
            reason: r.reason.clone(),
            external_id: r.external_id.clone().unwrap_or_default(),
            retryable: r.status == "requested" && r.idempotency_key.is_some(),
        })
    }
}

#[derive(Serialize)]
struct DisputeView {
    created: String,
    provider: String,
    event_type: String,
    event_id: String,
    amount: String,
}

impl DisputeView {
    fn from(d: &DisputeRow) -> Result<Self, AppError> {
        let amount = match (d.amount_minor, d.currency.as_deref()) {
            (Some(a), Some(c)) => payments_core::Currency::from_code(c)
                .map(|cur| payments_core::Money::new(a, cur).to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        Ok(DisputeView {
            created: format_time(d.created_at),
            provider: d.provider.clone(),
            event_type: d.event_type.clone(),
            event_id: d.event_id.clone(),
            amount,
        })
    }
}

/// The admin's refund form for a paid payment with something left to refund.
#[derive(Serialize)]
struct RefundFormView {
    public_id: String,
    paid: String,
    remaining: String,
    remaining_plain: String,
    currency: String,
}

fn refund_forms(payments: &[PaymentRow], refunds: &[RefundRow]) -> Result<Vec<RefundFormView>, AppError> {
    let mut forms = Vec::new();
    for p in payments.iter().filter(|p| p.status == "succeeded") {
        let taken: i64 = refunds
            .iter()
            .filter(|r| r.payment_id == p.id && r.status != "failed")
            .map(|r| r.amount_minor)
            .sum();
        let remaining = p.amount_minor - taken.max(p.refunded_minor);
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
        });
    }
    Ok(forms)
}

/// What `?refund=N` (after an admin's refund) says about refund N.
fn refund_notice(refunds: &[RefundRow], n: Option<i64>) -> Result<Option<String>, AppError> {
    let Some(r) = n.and_then(|n| refunds.iter().find(|r| r.id == n)) else {
        return Ok(None);
    };
    let amount = r.amount()?;
    Ok(Some(match r.status.as_str() {
        "succeeded" => format!("Refund #{} of {amount} succeeded.", r.id),
        "pending" => format!(
            "Refund #{} of {amount} was accepted by {} and is pending.",
            r.id, r.provider
        ),
        "failed" => format!(
            "Refund #{} of {amount} was refused: {}. Nothing was refunded.",
            r.id,
            r.error.as_deref().unwrap_or("no reason given")
        ),
        _ => format!(
            "Refund #{} of {amount} is recorded, but {} did not answer ({}). The amount stays reserved; press Retry (it cannot refund twice).",
            r.id,
            r.provider,
            r.error.as_deref().unwrap_or("no answer")
        ),
    }))
}

fn views<T, U>(rows: &[T], f: impl Fn(&T) -> Result<U, AppError>) -> Result<Vec<U>, AppError> {
    rows.iter().map(f).collect()
}

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

/// A day as `YYYY-MM-DD` (UTC) → unix seconds at its start; `what` names the field.
pub fn parse_day(value: &str, what: &str) -> Result<i64, String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let v = value.trim();
    if v.len() > 10 {
        return Err(format!(
            "{what} must be a date written YYYY-MM-DD (got {} characters)",
            v.chars().count()
        ));
    }
    time::Date::parse(v, &fmt)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| format!("{what} {v:?} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-01"))
}

/// A date range from a query: `[from, to_exclusive)` in unix seconds, the texts to show back in
/// the form, and a message when a value was refused (the refused bound is then ignored).
#[derive(Default, Serialize)]
pub struct DateRange {
    from: String,
    to: String,
    #[serde(skip)]
    start: Option<i64>,
    #[serde(skip)]
    end: Option<i64>,
}

impl DateRange {
    pub fn parse(from: Option<&str>, to: Option<&str>, problems: &mut Vec<String>) -> DateRange {
        let mut r = DateRange::default();
        if let Some(f) = from.map(str::trim).filter(|f| !f.is_empty()) {
            match parse_day(f, "From") {
                Ok(t) => {
                    r.start = Some(t);
                    r.from = f.to_string();
                }
                Err(e) => problems.push(e),
            }
        }
        if let Some(t) = to.map(str::trim).filter(|t| !t.is_empty()) {
            match parse_day(t, "To") {
                Ok(day) => {
                    r.end = Some(day + 86_400);
                    r.to = t.to_string();
                }
                Err(e) => problems.push(e),
            }
        }
        if let (Some(s), Some(e)) = (r.start, r.end) {
            if s >= e {
                problems.push(format!(
                    "From ({}) is after To ({}): no day can be in that range, so the filter is not applied",
                    r.from, r.to
                ));
                r = DateRange::default();
            }
        }
        r
    }

    pub fn contains(&self, unix: i64) -> bool {
        self.start.is_none_or(|s| unix >= s) && self.end.is_none_or(|e| unix < e)
    }

    pub fn is_set(&self) -> bool {
        self.start.is_some() || self.end.is_some()
    }
}

/// A page number given as text: 1 when absent; a message (and page 1) when it is not one.
fn page_from_text(page: Option<&str>, problems: &mut Vec<String>) -> i64 {
    match page.map(str::trim).filter(|p| !p.is_empty()) {
        None => 1,
        Some(p) => match p.parse::<i64>().ok().and_then(|n| page_number(Some(n)).ok()) {
            Some(n) => n,
            None => {
                problems.push(format!(
                    "Page {:?} does not exist: pages are numbered from 1 to {MAX_PAGE}; showing page 1",
                    crate::logsafe::bounded(p)
                ));
                1
            }
        },
    }
}

/// Links to pages of a list: first, last and the pages near the current one.
#[derive(Serialize)]
struct PageLink {
    number: i64,
    href: String,
    current: bool,
}

fn page_links(page: i64, pages: i64, href: impl Fn(i64) -> String) -> Vec<PageLink> {
    (1..=pages)
        .filter(|&n| n == 1 || n == pages || (n - page).abs() <= 3)
        .map(|n| PageLink {
            number: n,
            href: href(n),
            current: n == page,
        })
        .collect()
}

/// The sum of some amounts in one currency, in minor units (never floats).
fn sum_money(
    items: impl IntoIterator<Item = Result<payments_core::Money, AppError>>,
) -> Result<Option<payments_core::Money>, AppError> {
    let mut total: Option<payments_core::Money> = None;
    for m in items {
        let m = m?;
        total = Some(match total {
            None => m,
            Some(t) => t.checked_add(m).map_err(AppError::internal)?,
        });
    }
    Ok(total)
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
    let unbilled_total = sum_money(unbilled.iter().map(|u| u.cost().map_err(AppError::from)))?;
    let mut ctx = page_context(state, session, Some(user))?;
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
    ctx.insert(
        "receipts",
        &views(&receipts, |r| ReceiptView::from(r, &user.0.username))?,
    );
    state.templates.render("me.html", &ctx)
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
    tracing::info!(receipt = receipt.id, user = %crate::logsafe::bounded(&user.0.username), "receipt created");
    Ok(see_other(&format!("/receipts/{}", receipt.id)))
}

/// What went wrong when "Pay now" was pressed (set by `payments::start`; only these fixed codes
/// are shown, so a crafted link cannot put words on the page).
#[derive(Deserialize)]
pub struct ReceiptQuery {
    problem: Option<String>,
    /// `?refund=N` after an admin's refund: the page says how it went.
    refund: Option<i64>,
    #[serde(rename = "ref")]
    reference: Option<String>,
}

/// A payment reference as we issue them (`pay_` and hex), or nothing.
fn payment_reference(r: Option<&str>) -> Option<String> {
    r.filter(|r| {
        r.strip_prefix("pay_").is_some_and(|hex| {
            !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
    })
    .map(str::to_string)
}

/// The newest "Pay now" attempt's error for this receipt, if it failed with the active provider:
/// `(refused amount reason, the full error for admins)`.
fn last_intent_error(
    entries: &[payments_store::AuditRow],
    provider: &str,
) -> Option<(Option<String>, String)> {
    let newest = entries.first()?;
    let detail: serde_json::Value = serde_json::from_str(&newest.detail).ok()?;
    if detail.get("provider").and_then(|p| p.as_str()) != Some(provider) {
        return None;
    }
    let error = detail.get("error")?.as_str()?.to_string();
    let refused = error.strip_prefix("amount refused: ").map(str::to_string);
    Some((refused, error))
}

/// What a receipt page or PDF is made of.
struct ReceiptData {
    receipt: ReceiptRow,
    owner: String,
    usage: Vec<UsageRow>,
    payments: Vec<PaymentRow>,
    /// The newest `payment.intent` audit entry (for the page's "Pay now" problems).
    intents: Vec<payments_store::AuditRow>,
    refunds: Vec<RefundRow>,
    disputes: Vec<DisputeRow>,
}

/// Receipt `id` with everything shown on it, if `user` may see it (the owner or an admin;
/// anyone else gets the same 404 as for a receipt that does not exist).
async fn load_receipt(
    state: &web::Data<AppState>,
    user: &CurrentUser,
    id: i64,
) -> Result<ReceiptData, AppError> {
    let found = state
        .db(move |s| {
            let Some(receipt) = s.receipt(id)? else {
                return Ok(None);
            };
            let owner = s
                .user_by_id(receipt.user_id)?
                .map(|u| u.username)
                .unwrap_or_default();
            let intents = s
                .audit_log(&AuditQuery {
                    action: Some("payment.intent".into()),
                    receipt_id: Some(id),
                    limit: 1,
                    offset: 0,
                })?
                .0;
            Ok(Some(ReceiptData {
                receipt,
                owner,
                usage: s.usage_for_receipt(id)?,
                payments: s.payments_for_receipt(id)?,
                intents,
                refunds: s.refunds_for_receipt(id)?,
                disputes: s.disputes_for_receipt(id)?,
            }))
        })
        .await?;
    let data = found.ok_or(AppError::NotFound)?;
    user.may_access(data.receipt.user_id)?;
    Ok(data)
}

impl ReceiptData {
    fn document(&self, state: &AppState) -> Result<ReceiptDoc, AppError> {
        ReceiptDoc::build(
            &self.receipt,
            &self.owner,
            &state.config.issuer,
            &state.config.rates(),
            &self.usage,
            &self.payments,
        )
    }
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
    let data = load_receipt(&state, &user, path.into_inner()).await?;
    let doc = data.document(&state)?;
    let r = &data.receipt;
    let last_error = if r.status == "unpaid" {
        last_intent_error(&data.intents, state.provider_name())
    } else {
        None
    };
    let mut ctx = page_context(&state, &session, Some(&user))?;
    ctx.insert("receipt", &ReceiptView::from(r, &data.owner)?);
    ctx.insert("owner", &data.owner);
    ctx.insert("doc", &doc);
    ctx.insert("site_name", SITE_NAME);
    ctx.insert(
        "amount_refused",
        &last_error.as_ref().and_then(|(refused, _)| refused.clone()),
    );
    ctx.insert(
        "problem",
        &q.problem
            .as_deref()
            .filter(|p| ["unavailable", "amount"].contains(p)),
    );
    ctx.insert("reference", &payment_reference(q.reference.as_deref()));
    ctx.insert("refunds", &views(&data.refunds, RefundView::from)?);
    ctx.insert("disputes", &views(&data.disputes, DisputeView::from)?);
    ctx.insert("refund_notice", &refund_notice(&data.refunds, q.refund)?);
    if user.is_admin() {
        ctx.insert("operator_error", &last_error.map(|(_, e)| e));
        ctx.insert("refund_forms", &refund_forms(&data.payments, &data.refunds)?);
    } else {
        ctx.insert("refund_forms", &Vec::<RefundFormView>::new());
    }
    Ok(html(state.templates.render("receipt.html", &ctx)?))
}

/// `GET /receipts/{id}.pdf`: the receipt as a PDF, for the same people as the page.
pub async fn receipt_pdf(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let data = load_receipt(&state, &user, path.into_inner()).await?;
    let doc = data.document(&state)?;
    let bytes = crate::pdf::receipt_pdf(&doc, SITE_NAME);
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"receipt-{}.pdf\"", doc.number),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(bytes))
}

fn require_admin(user: &CurrentUser) -> Result<(), AppError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The admin receipt list's filters, read as text so that a bad value shows the page with a
/// message.
#[derive(Deserialize)]
pub struct ReceiptParams {
    page: Option<String>,
    status: Option<String>,
    user: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
}

const RECEIPT_STATUSES: &[&str] = &["unpaid", "paid", "partially_refunded", "refunded", "void"];
/// The most receipts one filter totals or exports; beyond, the page says so.
const MAX_MATCHING: i64 = 100_000;

/// The filtered set of receipts (newest first) with the problems found in the filter.
struct ReceiptSelection {
    rows: Vec<(ReceiptRow, String)>,
    truncated: bool,
    problems: Vec<String>,
    filter: payments_store::ReceiptFilter,
    range: DateRange,
    page: i64,
}

async fn select_receipts(state: &AppState, q: &ReceiptParams) -> Result<ReceiptSelection, AppError> {
    let mut problems = Vec::new();
    let page = page_from_text(q.page.as_deref(), &mut problems);
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
                    crate::logsafe::bounded(st),
                    RECEIPT_STATUSES.join(", ")
                ));
                None
            }
        });
    let username = text_filter(q.user.as_deref(), "User", &mut problems);
    let search = text_filter(q.q.as_deref(), "The search text", &mut problems);
    let range = DateRange::parse(q.from.as_deref(), q.to.as_deref(), &mut problems);
    let filter = payments_store::ReceiptFilter {
        status,
        username,
        since: range.start,
        until: range.end,
        search,
    };
    let f = filter.clone();
    let mut rows = state
        .db(move |s| s.receipts_matching(&f, MAX_MATCHING + 1))
        .await?;
    let truncated = rows.len() as i64 > MAX_MATCHING;
    rows.truncate(MAX_MATCHING as usize);
    Ok(ReceiptSelection {
        rows,
        truncated,
        problems,
        filter,
        range,
        page,
    })
}

/// The query string that reproduces a filter (without the page).
fn receipt_filter_params(sel: &ReceiptSelection) -> form_urlencoded::Serializer<'static, String> {
    let mut params = form_urlencoded::Serializer::new(String::new());
    let f = &sel.filter;
    for (k, v) in [
        ("status", f.status.as_deref()),
        ("user", f.username.as_deref()),
        ("from", Some(sel.range.from.as_str()).filter(|v| !v.is_empty())),
        ("to", Some(sel.range.to.as_str()).filter(|v| !v.is_empty())),
        ("q", f.search.as_deref()),
    ] {
        if let Some(v) = v {
            params.append_pair(k, v);
        }
    }
    params
}

/// Totals per currency, in minor units (checked i64 sums, never floats), as display strings.
fn totals_by_currency(rows: &[(ReceiptRow, String)]) -> Result<Vec<String>, AppError> {
    let mut totals: Vec<payments_core::Money> = Vec::new();
    for (r, _) in rows {
        let m = r.total()?;
        match totals.iter_mut().find(|t| t.currency == m.currency) {
            Some(t) => *t = t.checked_add(m).map_err(AppError::internal)?,
            None => totals.push(m),
        }
    }
    totals.sort_by_key(|m| m.currency.code());
    Ok(totals.iter().map(|m| m.to_string()).collect())
}

pub async fn admin_receipts(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    q: web::Query<ReceiptParams>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut sel = select_receipts(&state, &q).await?;
    let count = sel.rows.len() as i64;
    let pages = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = if sel.page > pages {
        sel.problems.push(format!(
            "Page {} does not exist: this list has {pages} page{}; showing page {pages}",
            sel.page,
            if pages == 1 { "" } else { "s" }
        ));
        pages
    } else {
        sel.page
    };
    let start = ((page - 1) * PAGE_SIZE) as usize;
    let shown = &sel.rows[start.min(sel.rows.len())..(start + PAGE_SIZE as usize).min(sel.rows.len())];
    let base = receipt_filter_params(&sel).finish();
    let mut ctx = page_context(&state, &session, Some(&user))?;
    if !sel.problems.is_empty() {
        ctx.insert("error", &sel.problems.join(" "));
    }
    let href = |n: i64| {
        let mut p = receipt_filter_params(&sel);
        p.append_pair("page", &n.to_string());
        format!("/admin/receipts?{}", p.finish())
    };
    ctx.insert("page_links", &page_links(page, pages, href));
    ctx.insert("pages", &pages);
    ctx.insert("count", &count);
    ctx.insert("truncated", &sel.truncated);
    ctx.insert("max_matching", &MAX_MATCHING);
    ctx.insert("totals", &totals_by_currency(&sel.rows)?);
    ctx.insert(
        "csv_href",
        &if base.is_empty() {
            "/admin/receipts.csv".to_string()
        } else {
            format!("/admin/receipts.csv?{base}")
        },
    );
    ctx.insert("filtered", &!base.is_empty());
    ctx.insert("statuses", RECEIPT_STATUSES);
    ctx.insert("status", &sel.filter.status.clone().unwrap_or_default());
    ctx.insert("user_filter", &sel.filter.username.clone().unwrap_or_default());
    ctx.insert("search", &sel.filter.search.clone().unwrap_or_default());
    ctx.insert("range", &sel.range);
    ctx.insert("max_text", &MAX_FILTER_TEXT);
    let ids: Vec<i64> = shown.iter().map(|(r, _)| r.id).collect();
    let disputed = state.db(move |s| s.disputed_receipts(&ids)).await?;
    let mut receipts = views(shown, |(r, owner)| ReceiptView::from(r, owner))?;
    for r in &mut receipts {
        r.disputed = disputed.contains(&r.id);
    }
    ctx.insert("receipts", &receipts);
    Ok(html(state.templates.render("admin_receipts.html", &ctx)?))
}

/// A CSV field: quoted when it holds a comma, quote or line break, and never starting with a
/// character a spreadsheet would run as a formula.
fn csv_field(value: &str) -> String {
    let v = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// The filtered set as CSV: amounts as decimal strings built from the integer minor units.
pub async fn admin_receipts_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    q: web::Query<ReceiptParams>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let sel = select_receipts(&state, &q).await?;
    if !sel.problems.is_empty() {
        return Err(AppError::BadRequest(sel.problems.join(" ")));
    }
    let mut out = String::from("receipt,user,status,created,paid,currency,total_minor,total\r\n");
    for (r, owner) in &sel.rows {
        let total = r.total()?;
        let line = [
            r.id.to_string(),
            csv_field(owner),
            csv_field(&r.status),
            format_time_seconds(r.created_at),
            r.paid_at.map(format_time_seconds).unwrap_or_default(),
            total.currency.code().to_string(),
            r.total_minor.to_string(),
            total.decimal_string(),
        ]
        .join(",");
        out.push_str(&line);
        out.push_str("\r\n");
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"receipts.csv\""))
        .insert_header(("Cache-Control", "no-store"))
        .body(out))
}

/// The audit log's filters, all read as text so that a bad value shows the page with a message.
#[derive(Deserialize)]
pub struct AuditParams {
    page: Option<String>,
    action: Option<String>,
    receipt: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
}

/// The longest actor or search text the audit filters accept.
const MAX_FILTER_TEXT: usize = 100;

/// A trimmed, non-empty text filter of at most `MAX_FILTER_TEXT` characters.
fn text_filter(value: Option<&str>, what: &str, problems: &mut Vec<String>) -> Option<String> {
    let v = value.map(str::trim).filter(|v| !v.is_empty())?;
    if v.chars().count() > MAX_FILTER_TEXT {
        problems.push(format!(
            "{what} is {} characters long; at most {MAX_FILTER_TEXT} are accepted, so it is not applied",
            v.chars().count()
        ));
        return None;
    }
    Some(v.to_string())
}

const AUDIT_ACTIONS: &[&str] = &[
    "payment.intent",
    "payment.webhook",
    "payment.finalize",
    "payment.capture",
    "payment.close",
    "payment.refund",
    "payment.dispute",
    "receipt.create",
    "usage.import",
    "user.create",
];

#[derive(Serialize)]
struct AuditView {
    time: String,
    actor: String,
    action: String,
    subject: String,
    receipt_id: Option<i64>,
    /// "verified" or "refused" for webhook signatures: a text badge, not an emoji.
    badge: Option<&'static str>,
    detail: Vec<(String, String)>,
}

/// The signature verdict of an entry as a word, and its detail without the emoji marks.
fn badge_of(detail: &mut [(String, String)]) -> Option<&'static str> {
    let mut badge = None;
    for (k, v) in detail.iter_mut() {
        if k != "signature" {
            continue;
        }
        if let Some(rest) = v.strip_prefix('\u{2705}') {
            badge = Some("verified");
            *v = rest.trim().to_string();
        } else if let Some(rest) = v.strip_prefix('\u{274c}') {
            badge = Some("refused");
            *v = rest.trim().to_string();
        }
    }
    badge
}

/// The detail JSON as `key: value` lines (strings unquoted), for reading rather than parsing.
fn detail_lines(detail: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Value>(detail) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect(),
        _ => vec![("detail".into(), detail.to_string())],
    }
}

pub async fn admin_audit(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    q: web::Query<AuditParams>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut problems = Vec::new();
    let page = page_from_text(q.page.as_deref(), &mut problems);
    let action =
        q.action
            .as_deref()
            .filter(|a| !a.is_empty())
            .and_then(|a| match AUDIT_ACTIONS.contains(&a) {
                true => Some(a.to_string()),
                false => {
                    problems.push(format!(
                        "action {:?} is not one the log records; choose one from the list",
                        crate::logsafe::bounded(a)
                    ));
                    None
                }
            });
    let receipt = match q.receipt.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => match r.trim_start_matches('#').parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                problems.push(format!(
                    "receipt {:?} is not a receipt number (write it as 42 or #42), so it is not applied",
                    crate::logsafe::bounded(r)
                ));
                None
            }
        },
    };
    let actor = text_filter(q.actor.as_deref(), "Actor", &mut problems);
    let text = text_filter(q.q.as_deref(), "The search text", &mut problems);
    let range = DateRange::parse(q.from.as_deref(), q.to.as_deref(), &mut problems);
    let query = AuditQuery {
        action: action.clone(),
        receipt_id: receipt,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    let more = payments_store::AuditSearch {
        actor: actor.clone(),
        since: range.start,
        until: range.end,
        text: text.clone(),
    };
    let (rows, total) = state.db(move |s| s.audit_search(&query, &more)).await?;
    let link = |p: i64| {
        let mut params = form_urlencoded::Serializer::new(String::new());
        params.append_pair("page", &p.to_string());
        for (k, v) in [
            ("action", action.clone()),
            ("receipt", receipt.map(|r| r.to_string())),
            ("actor", actor.clone()),
            ("from", Some(range.from.clone()).filter(|f| !f.is_empty())),
            ("to", Some(range.to.clone()).filter(|t| !t.is_empty())),
            ("q", text.clone()),
        ] {
            if let Some(v) = v {
                params.append_pair(k, &v);
            }
        }
        format!("/admin/audit?{}", params.finish())
    };
    let entries: Vec<AuditView> = rows
        .iter()
        .map(|e| {
            let mut detail = detail_lines(&e.detail);
            let badge = badge_of(&mut detail);
            AuditView {
                time: format_time_seconds(e.created_at),
                actor: e.actor.clone(),
                action: e.action.clone(),
                subject: e.subject.clone(),
                receipt_id: e.receipt_id,
                badge,
                detail,
            }
        })
        .collect();
    let mut ctx = page_context(&state, &session, Some(&user))?;
    if !problems.is_empty() {
        ctx.insert("error", &problems.join(" "));
    }
    ctx.insert("entries", &entries);
    ctx.insert("total", &total);
    ctx.insert("actions", AUDIT_ACTIONS);
    ctx.insert("action", &action.clone().unwrap_or_default());
    ctx.insert("receipt", &receipt);
    ctx.insert("actor", &actor.clone().unwrap_or_default());
    ctx.insert("text", &text.clone().unwrap_or_default());
    ctx.insert("range", &range);
    ctx.insert("max_text", &MAX_FILTER_TEXT);
    ctx.insert("prev_page", &(page > 1).then(|| link(page - 1)));
    ctx.insert("next_page", &(page * PAGE_SIZE < total).then(|| link(page + 1)));
    Ok(html(state.templates.render("admin_audit.html", &ctx)?))
}
