//! The host application's pages: My Usage, receipts, admin lists.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use payments_store::{AuditQuery, PaymentRow, ReceiptRow, UsageRow};
use serde::{Deserialize, Serialize};

use super::{html, page_context, see_other};
use crate::auth::{CsrfForm, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;
use crate::templates::{format_duration, format_time};

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
            "page {p} does not exist: pages are numbered from 1 to {MAX_PAGE}"
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
        })
    }
}

#[derive(Serialize)]
struct PaymentView {
    public_id: String,
    provider: String,
    external_id: String,
    status: String,
    created: String,
    amount: String,
}

impl PaymentView {
    fn from(p: &PaymentRow) -> Result<Self, AppError> {
        Ok(PaymentView {
            public_id: p.public_id.clone(),
            provider: p.provider.clone(),
            external_id: p.external_id.clone().unwrap_or_default(),
            status: p.status.clone(),
            created: format_time(p.created_at),
            amount: p.amount()?.to_string(),
        })
    }
}

fn views<T, U>(rows: &[T], f: impl Fn(&T) -> Result<U, AppError>) -> Result<Vec<U>, AppError> {
    rows.iter().map(f).collect()
}

pub async fn me(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let uid = user.id();
    let (usage, receipts) = state
        .db(move |s| Ok((s.usage_for_user(uid)?, s.receipts_for_user(uid)?)))
        .await?;
    let (unbilled, billed): (Vec<_>, Vec<_>) = usage.into_iter().partition(|u| u.receipt_id.is_none());
    let mut ctx = page_context(&state, &session, Some(&user))?;
    ctx.insert("unbilled", &views(&unbilled, UsageView::from)?);
    ctx.insert("billed", &views(&billed, UsageView::from)?);
    ctx.insert(
        "receipts",
        &views(&receipts, |r| ReceiptView::from(r, &user.0.username))?,
    );
    Ok(html(state.templates.render("me.html", &ctx)?))
}

pub async fn create_receipt(
    state: web::Data<AppState>,
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
    let (uid, actor) = (user.id(), user.actor());
    let receipt = state
        .db(move |s| s.create_receipt_from_usage(uid, &ids, &actor))
        .await?;
    tracing::info!(receipt = receipt.id, user = %crate::logsafe::bounded(&user.0.username), "receipt created");
    Ok(see_other(&format!("/receipts/{}", receipt.id)))
}

pub async fn receipt(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let found = state
        .db(move |s| {
            let Some(r) = s.receipt(id)? else {
                return Ok(None);
            };
            let owner = s.user_by_id(r.user_id)?.map(|u| u.username).unwrap_or_default();
            Ok(Some((
                r,
                owner,
                s.usage_for_receipt(id)?,
                s.payments_for_receipt(id)?,
            )))
        })
        .await?;
    let Some((r, owner, lines, payments)) = found else {
        return Err(AppError::NotFound);
    };
    user.may_access(r.user_id)?;
    let mut ctx = page_context(&state, &session, Some(&user))?;
    ctx.insert("receipt", &ReceiptView::from(&r, &owner)?);
    ctx.insert("owner", &owner);
    ctx.insert("lines", &views(&lines, UsageView::from)?);
    ctx.insert("payments", &views(&payments, PaymentView::from)?);
    Ok(html(state.templates.render("receipt.html", &ctx)?))
}

fn require_admin(user: &CurrentUser) -> Result<(), AppError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

pub async fn admin_receipts(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let page = page_number(q.page)?;
    let rows = state
        .db(move |s| s.all_receipts(PAGE_SIZE + 1, (page - 1) * PAGE_SIZE))
        .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    let shown = &rows[..rows.len().min(PAGE_SIZE as usize)];
    let mut ctx = page_context(&state, &session, Some(&user))?;
    ctx.insert(
        "receipts",
        &views(shown, |(r, owner)| ReceiptView::from(r, owner))?,
    );
    ctx.insert("prev_page", &(page > 1).then_some(page - 1));
    ctx.insert("next_page", &more.then_some(page + 1));
    Ok(html(state.templates.render("admin_receipts.html", &ctx)?))
}

#[derive(Deserialize)]
pub struct AuditParams {
    page: Option<i64>,
    action: Option<String>,
    receipt: Option<String>,
}

const AUDIT_ACTIONS: &[&str] = &[
    "payment.intent",
    "payment.webhook",
    "payment.finalize",
    "payment.capture",
    "payment.close",
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
    detail: Vec<(String, String)>,
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
    let page = page_number(q.page)?;
    let action = q.action.clone().filter(|a| !a.is_empty());
    let receipt = match q.receipt.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(
            r.trim_start_matches('#')
                .parse::<i64>()
                .map_err(|_| AppError::BadRequest(format!("receipt {r:?} is not a receipt number")))?,
        ),
    };
    let query = AuditQuery {
        action: action.clone(),
        receipt_id: receipt,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    let (rows, total) = state.db(move |s| s.audit_log(&query)).await?;
    let link = |p: i64| {
        let mut params = form_urlencoded::Serializer::new(String::new());
        params.append_pair("page", &p.to_string());
        if let Some(a) = &action {
            params.append_pair("action", a);
        }
        if let Some(r) = receipt {
            params.append_pair("receipt", &r.to_string());
        }
        format!("/admin/audit?{}", params.finish())
    };
    let entries: Vec<AuditView> = rows
        .iter()
        .map(|e| AuditView {
            time: format_time(e.created_at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            subject: e.subject.clone(),
            receipt_id: e.receipt_id,
            detail: detail_lines(&e.detail),
        })
        .collect();
    let mut ctx = page_context(&state, &session, Some(&user))?;
    ctx.insert("entries", &entries);
    ctx.insert("total", &total);
    ctx.insert("actions", AUDIT_ACTIONS);
    ctx.insert("action", &q.action.clone().unwrap_or_default());
    ctx.insert("receipt", &receipt);
    ctx.insert("prev_page", &(page > 1).then(|| link(page - 1)));
    ctx.insert("next_page", &(page * PAGE_SIZE < total).then(|| link(page + 1)));
    Ok(html(state.templates.render("admin_audit.html", &ctx)?))
}
