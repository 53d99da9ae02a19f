//! A mock of Mollie's API on 127.0.0.1 (test builds only: `cfg(payments_mock)`), built on the
//! core's mock kit: `POST /v2/payments`, `GET /v2/payments/{id}`, `POST /v2/payments/{id}/refunds`
//! (the refund's `metadata` kept), `GET /v2/payments/{id}/refunds` (HAL list, paged with `from` and
//! `limit`), Bearer auth, `Idempotency-Key` replays (a key reused with another body is Mollie's
//! `400`), and Mollie's error JSON. Tests move payments through Mollie's statuses with
//! [`MockMollie::set_status`], make refunds in the "dashboard" with [`MockMollie::refund`] and
//! [`MockMollie::dashboard_refund`], move a refund on with [`MockMollie::set_refund_status`], charge
//! back with [`MockMollie::charge_back`], answer a published object as it is with
//! [`MockMollie::serve`], and build the webhook Mollie would send with [`MockMollie::webhook_body`].

mod fixture;

use payments_core::mock::{Auth, Fault, Idempotency, Method, MockRequest, ProviderMock, Reply};
use payments_core::money::format_decimal;
use payments_core::{Currency, Money, RefundState, RetryPolicy};
use serde_json::{json, Value};

use crate::transformers::AMOUNTS;

pub use fixture::MollieFixture;

/// The API key the mock accepts.
pub const API_KEY: &str = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM";

/// The refund routes (create and list).
const REFUNDS: &str = "/v2/payments/{id}/refunds";

/// One payment as the mock holds it.
#[derive(Debug, Clone)]
pub struct Payment {
    pub id: String,
    /// Mollie's status (`open`, `paid`, ...).
    pub status: &'static str,
    pub amount: Money,
    /// Mollie's `amountRefunded`: every refund that is not `failed` or `canceled`.
    pub refunded: i64,
    pub charged_back: i64,
    /// Mollie's `settlementAmount` ("the approximate amount that will be settled to your
    /// account"), shown once paid: the payment's amount unless set otherwise.
    pub settlement: Option<Money>,
    pub metadata: Value,
    pub refunds: Vec<Refund>,
}

/// One refund as the mock holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refund {
    pub id: String,
    /// Minor units of the payment's currency.
    pub amount: i64,
    /// Mollie's refund status: `queued`, `pending`, `processing`, `refunded`, `failed`, `canceled`.
    pub status: String,
    /// What the creator put in `metadata` (`null` for a dashboard refund).
    pub metadata: Value,
}

/// Mollie's side: the payments, an amount the next create answers with instead of the asked one,
/// and a smaller page size for refund lists (to exercise paging).
#[derive(Default)]
pub struct State {
    pub payments: Vec<Payment>,
    pub next_amount: Option<Money>,
    pub refund_page_size: Option<usize>,
    refunds_made: usize,
}

/// Mollie's API as the adapter's tests see it.
pub struct MockMollie {
    pub mock: ProviderMock<State>,
}

fn error(status: u16, title: &str, detail: &str) -> Reply {
    Reply::json(status, &json!({"status": status, "title": title, "detail": detail,
        "_links": {"documentation": {"href": "https://docs.mollie.com/overview/handling-errors", "type": "text/html"}}}))
    .header("Content-Type", "application/hal+json")
}

fn decimal(units: i64, currency: Currency) -> Value {
    json!({"currency": currency.code(), "value": format_decimal(units, AMOUNTS.exponent(currency), false)})
}

/// Failed and canceled refunds give the money back: they no longer count in `amountRefunded`.
fn is_void(status: &str) -> bool {
    RefundState::from_provider(status).is_void()
}

fn show(p: &Payment, base: &str) -> Value {
    let status = p.status;
    let mut body = json!({"resource": "payment", "id": p.id, "mode": "test", "status": status,
        "amount": decimal(p.amount.amount.0, p.amount.currency), "metadata": p.metadata,
        "_links": {"self": {"href": format!("{base}/v2/payments/{}", p.id), "type": "application/hal+json"}}});
    if p.status == "open" {
        body["_links"]["checkout"] =
            json!({"href": format!("{base}/checkout/{}", p.id), "type": "text/html"});
    }
    if p.status == "paid" {
        body["amountRefunded"] = decimal(p.refunded, p.amount.currency);
        body["amountRemaining"] = decimal(p.amount.amount.0 - p.refunded, p.amount.currency);
        let settled = p.settlement.unwrap_or(p.amount);
        body["settlementAmount"] = decimal(settled.amount.0, settled.currency);
    }
    if p.charged_back > 0 {
        body["amountChargedBack"] = decimal(p.charged_back, p.amount.currency);
    }
    if !p.refunds.is_empty() {
        body["_links"]["refunds"] = json!({"href": format!("{base}/v2/payments/{}/refunds", p.id),
            "type": "application/hal+json"});
    }
    body
}

fn show_refund(p: &Payment, r: &Refund, base: &str) -> Value {
    let hal = |href: String| json!({"href": href, "type": "application/hal+json"});
    let links = json!({
        "self": hal(format!("{base}/v2/payments/{}/refunds/{}", p.id, r.id)),
        "payment": hal(format!("{base}/v2/payments/{}", p.id)),
    });
    json!({
        "resource": "refund", "id": r.id, "status": r.status, "paymentId": p.id,
        "amount": decimal(r.amount, p.amount.currency), "metadata": r.metadata,
        "createdAt": "2024-05-01T10:00:00+00:00", "_links": links,
    })
}

/// `{currency, value}` with exactly Mollie's decimals, as Mollie insists.
fn amount(body: &Value) -> Result<Money, Reply> {
    let (currency, value) = (
        body["amount"]["currency"].as_str(),
        body["amount"]["value"].as_str(),
    );
    let (Some(currency), Some(value)) = (currency, value) else {
        return Err(error(
            422,
            "Unprocessable Entity",
            "The amount is required (currency and value as a string)",
        ));
    };
    let exact = Currency::from_code(currency)
        .ok()
        .filter(|c| value.split_once('.').map_or(0, |(_, f)| f.len()) == usize::from(AMOUNTS.exponent(*c)));
    match exact.and_then(|_| AMOUNTS.parse_decimal(value, currency).ok()) {
        Some(money) if money.amount.is_positive() => Ok(money),
        _ => Err(error(
            422,
            "Unprocessable Entity",
            "The amount contains an invalid value or wrong decimals",
        )),
    }
}

fn create(state: &mut State, req: &MockRequest<'_>) -> Reply {
    let body = req.json().unwrap_or(Value::Null);
    let asked = match amount(&body) {
        Ok(money) => money,
        Err(reply) => return reply,
    };
    for field in ["description", "redirectUrl"] {
        if !body[field].is_string() {
            return error(422, "Unprocessable Entity", &format!("The {field} is required"));
        }
    }
    let payment = Payment {
        id: format!("tr_mock{}", state.payments.len() + 1),
        status: "open",
        amount: state.next_amount.take().unwrap_or(asked),
        refunded: 0,
        charged_back: 0,
        settlement: None,
        metadata: body["metadata"].clone(),
        refunds: Vec::new(),
    };
    state.payments.push(payment.clone());
    Reply::json(201, &show(&payment, req.base_uri()))
}

fn no_payment() -> Reply {
    error(404, "Not Found", "No payment exists with token {id}.")
}

impl State {
    /// A new refund of `units` on payment `id`, counted in its `amountRefunded` unless void.
    fn add_refund(&mut self, id: &str, units: i64, status: &str, metadata: Value) -> Option<&Refund> {
        self.refunds_made += 1;
        let refund = Refund {
            id: format!("re_mock{}", self.refunds_made),
            amount: units,
            status: status.to_string(),
            metadata,
        };
        let p = self.payments.iter_mut().find(|p| p.id == id)?;
        if !is_void(status) {
            p.refunded += units;
        }
        p.refunds.push(refund);
        p.refunds.last()
    }
}

fn refund(state: &mut State, req: &MockRequest<'_>) -> Reply {
    let body = req.json().unwrap_or(Value::Null);
    let asked = match amount(&body) {
        Ok(money) => money,
        Err(reply) => return reply,
    };
    let Some(p) = state.payments.iter().find(|p| p.id == req.param("id")) else {
        return no_payment();
    };
    if p.status != "paid"
        || asked.currency != p.amount.currency
        || asked.amount.0 > p.amount.amount.0 - p.refunded
    {
        return error(
            422,
            "Unprocessable Entity",
            "The amount is higher than the amount that can be refunded",
        );
    }
    let id = p.id.clone();
    let metadata = body.get("metadata").cloned().unwrap_or(Value::Null);
    let refund = state
        .add_refund(&id, asked.amount.0, "pending", metadata)
        .cloned();
    match (state.payments.iter().find(|p| p.id == id), refund) {
        (Some(p), Some(r)) => Reply::json(201, &show_refund(p, &r, req.base_uri())),
        _ => no_payment(),
    }
}

/// `GET /v2/payments/{id}/refunds?from=re_...&limit=n`: Mollie's HAL list, `limit` 1 to 250
/// (default 50), `from` the first refund of the page.
fn list_refunds(state: &mut State, req: &MockRequest<'_>) -> Reply {
    let Some(p) = state.payments.iter().find(|p| p.id == req.param("id")) else {
        return no_payment();
    };
    let limit = match req.query("limit").map(|l| l.parse::<usize>()) {
        None => 50,
        Some(Ok(l)) if (1..=250).contains(&l) => l,
        Some(_) => return error(400, "Bad Request", "The limit must be between 1 and 250"),
    };
    let page = state.refund_page_size.map_or(limit, |size| size.min(limit));
    let start = match req.query("from") {
        None => 0,
        Some(from) => match p.refunds.iter().position(|r| r.id == from) {
            Some(i) => i,
            None => return error(400, "Bad Request", "Invalid value for the from parameter"),
        },
    };
    let base = req.base_uri();
    let list = format!("{base}/v2/payments/{}/refunds", p.id);
    let shown: Vec<Value> = (p.refunds.iter().skip(start).take(page))
        .map(|r| show_refund(p, r, base))
        .collect();
    let next = p.refunds.get(start + page).map(
        |r| json!({"href": format!("{list}?from={}&limit={limit}", r.id), "type": "application/hal+json"}),
    );
    Reply::json(
        200,
        &json!({"count": shown.len(), "_embedded": {"refunds": shown}, "_links": {
            "self": {"href": format!("{list}?limit={limit}"), "type": "application/hal+json"},
            "previous": null,
            "next": next,
            "documentation": {"href": "https://docs.mollie.com/reference/list-refunds", "type": "text/html"},
        }}),
    )
    .header("Content-Type", "application/hal+json")
}

impl MockMollie {
    pub async fn start() -> MockMollie {
        let reused = |_key: &str| error(400, "Bad Request", "This Idempotency-Key has already been used.");
        let mock = ProviderMock::builder(crate::NAME, State::default())
            .auth(
                Auth::bearer(API_KEY),
                error(
                    401,
                    "Unauthorized Request",
                    "Missing authentication, or failed to authenticate",
                ),
            )
            .fault_reply(|status| error(status, "Service Unavailable", "Mollie is temporarily unavailable"))
            .idempotency(Idempotency::header("Idempotency-Key").conflict(reused))
            .route(Method::POST, "/v2/payments", create)
            .route(
                Method::GET,
                "/v2/payments/{id}",
                |state: &mut State, req| match state.payments.iter().find(|p| p.id == req.param("id")) {
                    Some(p) => Reply::json(200, &show(p, req.base_uri())),
                    None => no_payment(),
                },
            )
            .route(Method::POST, REFUNDS, refund)
            .route(Method::GET, REFUNDS, list_refunds)
            .start()
            .await;
        MockMollie { mock }
    }

    /// The base URL to put in `MOLLIE_API_BASE`.
    pub fn uri(&self) -> String {
        self.mock.uri()
    }

    /// The adapter configured for this mock (webhooks to `http://127.0.0.1:8000`).
    pub fn config(&self) -> crate::MollieConfig {
        let vars = [
            ("MOLLIE_API_KEY", API_KEY.to_string()),
            ("MOLLIE_API_BASE", self.uri()),
            ("SITE_BASE_URL", "http://127.0.0.1:8000".to_string()),
        ];
        let lookup = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        crate::MollieConfig::from_lookup(&lookup).expect("the mock's configuration")
    }

    pub(crate) fn update<T>(&self, id: &str, change: impl FnOnce(&mut Payment) -> T) -> T {
        let mut state = self.mock.state();
        let payment = state.payments.iter_mut().find(|p| p.id == id);
        change(payment.unwrap_or_else(|| panic!("the mock has no payment {id}")))
    }

    /// Moves payment `id` to `status`, as the payer or Mollie would.
    pub fn set_status(&self, id: &str, status: &'static str) {
        self.update(id, |p| p.status = status);
    }

    /// A refund of `units` (minor units of the payment's currency) made in Mollie's dashboard,
    /// already `refunded`; returns its id.
    pub fn refund(&self, id: &str, units: i64) -> String {
        self.dashboard_refund(id, units, "refunded")
    }

    /// A refund of `units` made in Mollie's dashboard (not through the adapter: no marker) with
    /// Mollie's refund `status`; counted in `amountRefunded` unless `failed` or `canceled`.
    /// Returns its id.
    pub fn dashboard_refund(&self, id: &str, units: i64, status: &str) -> String {
        let mut state = self.mock.state();
        match state.add_refund(id, units, status, Value::Null) {
            Some(r) => r.id.clone(),
            None => panic!("the mock has no payment {id}"),
        }
    }

    /// Moves refund `refund_id` to Mollie's refund `status` (`processing`, `refunded`, `failed`,
    /// `canceled`, ...); a refund that fails or is canceled leaves `amountRefunded` (and one that
    /// comes back from there enters it again), as at Mollie.
    pub fn set_refund_status(&self, refund_id: &str, status: &str) {
        if !self.move_refund(refund_id, status) {
            panic!("the mock has no refund {refund_id}");
        }
    }

    /// [`set_refund_status`](Self::set_refund_status); `false` when the mock has no such refund.
    pub fn move_refund(&self, refund_id: &str, status: &str) -> bool {
        let mut state = self.mock.state();
        let found = state.payments.iter_mut().find_map(|p| {
            let r = p.refunds.iter_mut().find(|r| r.id == refund_id)?;
            let change = match (is_void(&r.status), is_void(status)) {
                (false, true) => -r.amount,
                (true, false) => r.amount,
                _ => 0,
            };
            r.status = status.to_string();
            p.refunded += change;
            Some(())
        });
        found.is_some()
    }

    /// The refunds of payment `id`, oldest first.
    pub fn refunds_of(&self, id: &str) -> Vec<Refund> {
        self.update(id, |p| p.refunds.clone())
    }

    /// Puts `units` refunded on payment `id` as dashboard refunds: a higher total adds one
    /// `refunded` refund for the difference; a lower one replaces the refunds by one of `units`
    /// (none for 0), so that `amountRefunded` and the refund list always agree.
    pub fn set_refunded_total(&self, id: &str, units: i64) {
        let current = self.update(id, |p| p.refunded);
        if units > current {
            self.refund(id, units - current);
        } else if units < current {
            self.update(id, |p| {
                p.refunds.clear();
                p.refunded = 0;
            });
            if units > 0 {
                self.refund(id, units);
            }
        }
    }

    /// Puts `total` refunded on payment `id`, `last` of it by its newest refund (both minor
    /// units): the payment's `amountRefunded` is the running total and its refund list ends with
    /// a refund of `last`, as after successive partial refunds. Nothing changes when the payment
    /// is already so.
    pub fn set_refunds(&self, id: &str, total: i64, last: i64) {
        let (refunded, newest) = self.update(id, |p| (p.refunded, p.refunds.last().map(|r| r.amount)));
        if total <= 0 || last <= 0 || last > total {
            return self.set_refunded_total(id, total.max(0));
        }
        if refunded == total && newest == Some(last) {
            return;
        }
        self.set_refunded_total(id, total - last);
        self.refund(id, last);
    }

    /// Payment `id`'s `settlementAmount` (`None`: its own amount).
    pub fn set_settlement(&self, id: &str, settlement: Option<Money>) {
        self.update(id, |p| p.settlement = settlement);
    }

    /// From now on `method path` is answered with `status` and the published `body` as they are
    /// (the conformance suite's `serve` hook); a later call for the same request replaces it.
    pub fn serve(&self, method: &str, path: &str, status: u16, body: &Value) {
        self.mock.serve(method, path, status, body);
    }

    /// Refund lists come in pages of at most `size` refunds (Mollie's own limit otherwise).
    pub fn set_refund_page_size(&self, size: usize) {
        self.mock.state().refund_page_size = Some(size);
    }

    /// A chargeback of `units` on payment `id`.
    pub fn charge_back(&self, id: &str, units: i64) {
        self.update(id, |p| p.charged_back += units);
    }

    /// The payments created for our `payment_ref`.
    pub fn payments_for(&self, payment_ref: &str) -> Vec<Payment> {
        let state = self.mock.state();
        state
            .payments
            .iter()
            .filter(|p| p.metadata["payment_ref"] == payment_ref)
            .cloned()
            .collect()
    }

    /// The next create is stored but its answer is lost on the way back.
    pub fn lose_next_create(&self) {
        self.mock
            .inject(Method::POST, "/v2/payments", Fault::LostAnswer, 1);
    }

    /// The next refund-create takes effect but its answer is lost, on every attempt the
    /// adapter's retry policy makes (the retries, with the same key, are replayed and lost too):
    /// the call fails although the refund exists.
    pub fn lose_next_refund(&self) {
        let attempts = RetryPolicy::default().max_attempts.max(1);
        let attempts = usize::try_from(attempts).unwrap_or(usize::MAX);
        self.mock
            .inject(Method::POST, REFUNDS, Fault::LostAnswer, attempts);
    }

    /// Forgets every `Idempotency-Key`, as Mollie does after an hour.
    pub fn forget_idempotency_keys(&self) {
        self.mock.forget_idempotency_keys();
    }

    /// The next create answers with `amount` instead of the one asked.
    pub fn answer_next_create_with(&self, amount: Money) {
        self.mock.state().next_amount = Some(amount);
    }

    /// The body of the webhook Mollie sends about payment `id`: `id=tr_...`, nothing else.
    pub fn webhook_body(id: &str) -> Vec<u8> {
        format!("id={id}").into_bytes()
    }
}
