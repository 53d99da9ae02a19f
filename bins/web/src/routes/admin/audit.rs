//! The audit log: filters (action, receipt, actor, dates, free text), pages of entries.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use payments_app::audit;
use payments_app::format::format_time_seconds;
use payments_store::AuditQuery;
use serde::{Deserialize, Serialize};

use super::require_admin;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::routes::filters::{
    id_cursor, id_direction, keyset_page, text_filter, DateRange, MAX_FILTER_TEXT, PAGE_SIZE,
};
use crate::routes::page::{html, page_context};
use crate::state::AppState;

/// The audit log's filters, all read as text so that a bad value shows the page with a message.
#[derive(Deserialize)]
pub struct AuditParams {
    /// Older entries: below this entry's id (keyset paging).
    before: Option<String>,
    /// Newer entries: above this entry's id.
    after: Option<String>,
    action: Option<String>,
    receipt: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
}

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

pub async fn admin_audit(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    q: web::Query<AuditParams>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut problems = Vec::new();
    let cursor = id_cursor(
        q.before.as_deref(),
        q.after.as_deref(),
        "is not a position in the log; showing the newest entries",
        &mut problems,
    );
    let action =
        q.action
            .as_deref()
            .filter(|a| !a.is_empty())
            .and_then(|a| match audit::ACTIONS.contains(&a) {
                true => Some(a.to_string()),
                false => {
                    problems.push(format!(
                        "action {:?} is not one the log records; choose one from the list",
                        payments_app::logsafe::bounded(a)
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
                    payments_app::logsafe::bounded(r)
                ));
                None
            }
        },
    };
    // A NUL character is refused (400) by `text_filter`, on both backends alike.
    let actor = text_filter(q.actor.as_deref(), "Actor", &mut problems)?;
    let text = text_filter(q.q.as_deref(), "The search text", &mut problems)?;
    let range = DateRange::parse(q.from.as_deref(), q.to.as_deref(), &mut problems);
    let query = AuditQuery {
        action: action.clone(),
        receipt_id: receipt,
        limit: PAGE_SIZE,
        offset: 0,
    };
    let more = payments_store::AuditSearch {
        actor: actor.clone(),
        since: range.start,
        until: range.end,
        text: text.clone(),
    };
    // One page (one more to know whether there is another); no count of the whole log.
    let (rows, searched) = state
        .db(move |s| s.audit_page(&query, &more, cursor, PAGE_SIZE + 1))
        .await?;
    let (rows, has_newer, has_older) = keyset_page(rows, PAGE_SIZE, id_direction(cursor));
    let link = |key: &str, id: i64| {
        let mut params = form_urlencoded::Serializer::new(String::new());
        params.append_pair(key, &id.to_string());
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
            let (badge, detail) = audit::readable_detail(&e.detail);
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
    ctx.insert("window", &searched.then_some(payments_store::AUDIT_SEARCH_WINDOW));
    ctx.insert("actions", audit::ACTIONS);
    ctx.insert("action", &action.clone().unwrap_or_default());
    ctx.insert("receipt", &receipt);
    ctx.insert("actor", &actor.clone().unwrap_or_default());
    ctx.insert("text", &text.clone().unwrap_or_default());
    ctx.insert("range", &range);
    ctx.insert("max_text", &MAX_FILTER_TEXT);
    ctx.insert(
        "prev_page",
        &has_newer
            .then(|| rows.first().map(|e| link("after", e.id)))
            .flatten(),
    );
    ctx.insert(
        "next_page",
        &has_older
            .then(|| rows.last().map(|e| link("before", e.id)))
            .flatten(),
    );
    Ok(html(state.templates.render("admin_audit.html", &ctx)?))
}
