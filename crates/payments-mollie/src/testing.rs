//! A mock of Mollie's API on 127.0.0.1 (test builds only: `cfg(payments_mock)`), built on the
//! core's mock kit: `POST /v2/payments`, `GET /v2/payments/{id}`, `POST /v2/payments/{id}/refunds`,
//! Bearer auth, `Idempotency-Key` replays, and Mollie's error JSON. Tests move payments through
//! Mollie's statuses with [`MockMollie::set_status`], [`MockMollie::refund`] and
//! [`MockMollie::charge_back`], and build the webhook Mollie would send with
//! [`MockMollie::webhook_body`].

use payments_core::mock::{Auth, Fault, Idempotency, Method, MockRequest, ProviderMock, Reply};
use payments_core::money::format_decimal;
use payments_core::{Currency, Money};
use serde_json::{json, Value};

use crate::transformers::AMOUNTS;

/// The API key the mock accepts.
pub const API_KEY: &str = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM";

/// One payment as the mock holds it.
#[derive(Debug, Clone)]
pub struct Payment {
    pub id: String,
    /// Mollie's status (`open`, `paid`, ...).
    pub status: &'static str,
    pub amount: Money,
    pub refunded: i64,
    pub charged_back: i64,
    pub metadata: Value,
    pub refunds: Vec<String>,
}

/// Mollie's side: the payments, and an amount the next create answers with instead of the asked one.
#[derive(Default)]
pub struct State {
    pub payments: Vec<Payment>,
    pub next_amount: Option<Money>,
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
    }
    if p.charged_back > 0 {
        body["amountChargedBack"] = decimal(p.charged_back, p.amount.currency);
    }
    body
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
        metadata: body["metadata"].clone(),
        refunds: Vec::new(),
    };
    state.payments.push(payment.clone());
    Reply::json(201, &show(&payment, req.base_uri()))
}

fn refund(state: &mut State, req: &MockRequest<'_>) -> Reply {
    let asked = match amount(&req.json().unwrap_or(Value::Null)) {
        Ok(money) => money,
        Err(reply) => return reply,
    };
    let Some(p) = state.payments.iter_mut().find(|p| p.id == req.param("id")) else {
        return error(404, "Not Found", "No payment exists with token {id}.");
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
    p.refunded += asked.amount.0;
    let id = format!("re_mock{}", p.refunds.len() + 1);
    p.refunds.push(id.clone());
    Reply::json(
        201,
        &json!({"resource": "refund", "id": id, "status": "pending", "paymentId": p.id,
        "amount": decimal(asked.amount.0, asked.currency)}),
    )
}

impl MockMollie {
    pub async fn start() -> MockMollie {
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
            .idempotency(Idempotency::header("Idempotency-Key"))
            .route(Method::POST, "/v2/payments", create)
            .route(
                Method::GET,
                "/v2/payments/{id}",
                |state: &mut State, req| match state.payments.iter().find(|p| p.id == req.param("id")) {
                    Some(p) => Reply::json(200, &show(p, req.base_uri())),
                    None => error(404, "Not Found", "No payment exists with token {id}."),
                },
            )
            .route(Method::POST, "/v2/payments/{id}/refunds", refund)
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

    fn update(&self, id: &str, change: impl FnOnce(&mut Payment)) {
        let mut state = self.mock.state();
        let payment = state.payments.iter_mut().find(|p| p.id == id);
        change(payment.unwrap_or_else(|| panic!("the mock has no payment {id}")));
    }

    /// Moves payment `id` to `status`, as the payer or Mollie would.
    pub fn set_status(&self, id: &str, status: &'static str) {
        self.update(id, |p| p.status = status);
    }

    /// A refund made in Mollie's dashboard (minor units of the payment's currency).
    pub fn refund(&self, id: &str, units: i64) {
        self.update(id, |p| p.refunded += units);
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

    /// The next create answers with `amount` instead of the one asked.
    pub fn answer_next_create_with(&self, amount: Money) {
        self.mock.state().next_amount = Some(amount);
    }

    /// The body of the webhook Mollie sends about payment `id`: `id=tr_...`, nothing else.
    pub fn webhook_body(id: &str) -> Vec<u8> {
        format!("id={id}").into_bytes()
    }
}

mod fixture {
    use payments_core::conformance::{AdapterFixture, EventSpec, Kind, Received, Secret, WireAmount};
    use payments_core::{async_trait, CheckoutSession, Money, PaymentProvider, PaymentStatus};

    use super::{MockMollie, API_KEY};
    use crate::MollieProvider;

    /// The conformance suite's fixture for Mollie (also drives the server's end-to-end test).
    pub struct MollieFixture {
        pub provider: MollieProvider,
        pub mock: MockMollie,
    }

    impl MollieFixture {
        pub async fn start() -> Self {
            let mock = MockMollie::start().await;
            MollieFixture {
                provider: MollieProvider::new(mock.config()).expect("provider"),
                mock,
            }
        }
    }

    fn mollie_status(status: PaymentStatus) -> &'static str {
        match status {
            PaymentStatus::Pending => "open",
            PaymentStatus::RequiresCapture => "authorized",
            PaymentStatus::Succeeded => "paid",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Expired => "expired",
            PaymentStatus::Canceled => "canceled",
            PaymentStatus::Refunded => "paid",
        }
    }

    #[async_trait]
    impl AdapterFixture for MollieFixture {
        fn provider(&self) -> &dyn PaymentProvider {
            &self.provider
        }

        /// docs/providers/mollie.md: two decimals, JPY and ISK none, no three-decimal currency.
        fn currencies(&self) -> Vec<&'static str> {
            vec!["EUR", "JPY", "ISK"]
        }

        fn wire_amount(&self) -> WireAmount {
            WireAmount::Decimal
        }

        async fn received(&self) -> Option<Vec<Received>> {
            Some(
                self.mock
                    .mock
                    .received()
                    .await
                    .iter()
                    .map(Received::from)
                    .collect(),
            )
        }

        fn is_checkout_create(&self, request: &Received) -> bool {
            request.method == "POST" && request.path == "/v2/payments"
        }

        fn amount_sent(&self, request: &Received) -> Option<String> {
            let body: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
            Some(body["amount"]["value"].as_str()?.to_string())
        }

        async fn checkouts_at_provider(&self, payment_ref: &str) -> Option<usize> {
            Some(self.mock.payments_for(payment_ref).len())
        }

        async fn lose_next_checkout_answer(&self) -> bool {
            self.mock.lose_next_create();
            true
        }

        async fn answer_next_checkout_with_other_amount(&self, asked: Money) -> bool {
            let other = Money::new(asked.amount.0 / 100 + 1, asked.currency);
            self.mock.answer_next_create_with(other);
            true
        }

        /// Every kind: Mollie's fetched payment tells each of them apart.
        fn event_kinds(&self) -> Vec<Kind> {
            Kind::ALL.to_vec()
        }

        /// Mollie's webhook names only the payment: the mock's payment is put in the state the
        /// event stands for, and the body is `id=tr_...`.
        async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
            let id = &spec.session.external_id;
            let status = match spec.kind {
                Kind::Succeeded | Kind::Refunded | Kind::Disputed => "paid",
                Kind::Failed => "failed",
                Kind::Pending => "pending",
                Kind::Expired => "expired",
                Kind::CaptureRequired => "authorized",
            };
            self.mock.set_status(id, status);
            self.mock
                .mock
                .state()
                .payments
                .iter_mut()
                .filter(|p| p.id == *id)
                .for_each(|p| {
                    p.refunded = spec.refunded.map_or(0, |m| m.amount.0);
                    p.charged_back = if spec.kind == Kind::Disputed {
                        spec.amount.amount.0
                    } else {
                        0
                    };
                });
            Some(MockMollie::webhook_body(id))
        }

        /// Mollie signs nothing: the webhook is verified by fetching the payment.
        fn sign(&self, _body: &[u8], _timestamp: i64, _secret: Secret) -> Option<Vec<(String, String)>> {
            None
        }

        fn statuses(&self) -> Vec<PaymentStatus> {
            use PaymentStatus::*;
            vec![
                Pending,
                RequiresCapture,
                Succeeded,
                Failed,
                Expired,
                Canceled,
                Refunded,
            ]
        }

        /// A fully refunded payment stays `paid` at Mollie, with `amountRefunded` equal to its amount.
        fn server_vars(&self) -> Option<Vec<(&'static str, String)>> {
            Some(vec![
                ("MOLLIE_API_KEY", API_KEY.into()),
                ("MOLLIE_API_BASE", self.mock.uri()),
            ])
        }

        async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
            let id = &session.external_id;
            self.mock.set_status(id, mollie_status(status));
            let mut state = self.mock.mock.state();
            for p in state.payments.iter_mut().filter(|p| p.id == *id) {
                p.refunded = if status == PaymentStatus::Refunded {
                    p.amount.amount.0
                } else {
                    0
                };
            }
            true
        }
    }
}
pub use fixture::MollieFixture;
