//! [`DummyBank`]: a mock of the dummy provider's API (see [`crate::api`]) on 127.0.0.1, with the
//! payments it knows and how often each was fetched and captured.

use std::collections::HashMap;

use payments_core::mock::{Idempotency, Method, ProviderMock, Reply};
use payments_core::Money;
use serde_json::json;

use crate::api::ApiPayment;
use crate::DummyProvider;

/// The bank's books.
#[derive(Debug, Default)]
pub struct Books {
    /// By the dummy's id (`dummy_<our id>`).
    pub payments: HashMap<String, ApiPayment>,
    /// `GET /v1/payments/{id}` calls per id.
    pub fetches: HashMap<String, usize>,
    /// `POST /v1/payments/{id}/capture` calls per id that captured (replays excluded).
    pub captures: HashMap<String, usize>,
}

/// The dummy provider's API, mocked: unknown payments are 404, a capture turns
/// `requires_capture` into `succeeded` (any other status is refused with 409).
pub struct DummyBank {
    pub mock: ProviderMock<Books>,
}

fn not_found(id: &str) -> Reply {
    Reply::json(
        404,
        &json!({"error": {"code": "resource_missing", "message": format!("no payment {id}")}}),
    )
}

impl DummyBank {
    pub async fn start() -> DummyBank {
        let mock = ProviderMock::builder(DummyProvider::NAME, Books::default())
            .idempotency(Idempotency::header("Idempotency-Key"))
            .route(Method::GET, "/v1/payments/{id}", |books: &mut Books, req| {
                let id = req.param("id").to_string();
                *books.fetches.entry(id.clone()).or_default() += 1;
                match books.payments.get(&id) {
                    Some(p) => Reply::json(200, &json!(p)),
                    None => not_found(&id),
                }
            })
            .route(
                Method::POST,
                "/v1/payments/{id}/capture",
                |books: &mut Books, req| {
                    let id = req.param("id").to_string();
                    let Some(p) = books.payments.get_mut(&id) else {
                        return not_found(&id);
                    };
                    if p.status != "requires_capture" {
                        let message = format!("payment {id} is {}, not requires_capture", p.status);
                        return Reply::json(
                            409,
                            &json!({"error": {"code": "not_capturable", "message": message}}),
                        );
                    }
                    p.status = "succeeded".into();
                    let p = p.clone();
                    *books.captures.entry(id).or_default() += 1;
                    Reply::json(200, &json!(p))
                },
            )
            .start()
            .await;
        DummyBank { mock }
    }

    /// The API's base URL (`DUMMY_API_URL`).
    pub fn uri(&self) -> String {
        self.mock.uri()
    }

    /// Records (or replaces) our payment `payment_ref` at the bank with `status` and `amount`.
    pub fn set(&self, payment_ref: &str, status: &str, amount: Money) {
        let id = DummyProvider::external_id(payment_ref);
        let payment = ApiPayment {
            id: id.clone(),
            status: status.to_string(),
            amount: amount.amount.get(),
            currency: amount.currency.code().to_string(),
            payment_ref: payment_ref.to_string(),
        };
        self.mock.state().payments.insert(id, payment);
    }

    /// The bank's status of our payment `payment_ref`.
    pub fn status(&self, payment_ref: &str) -> Option<String> {
        let id = DummyProvider::external_id(payment_ref);
        self.mock.state().payments.get(&id).map(|p| p.status.clone())
    }

    /// How often our payment `payment_ref` was fetched.
    pub fn fetches(&self, payment_ref: &str) -> usize {
        let id = DummyProvider::external_id(payment_ref);
        self.mock.state().fetches.get(&id).copied().unwrap_or(0)
    }

    /// How often our payment `payment_ref` was captured.
    pub fn captures(&self, payment_ref: &str) -> usize {
        let id = DummyProvider::external_id(payment_ref);
        self.mock.state().captures.get(&id).copied().unwrap_or(0)
    }

    /// Every fetch count, by the dummy's id.
    pub fn all_fetches(&self) -> HashMap<String, usize> {
        self.mock.state().fetches.clone()
    }
}
