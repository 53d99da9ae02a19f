//! Every variable the application layer reads ([`super::Settings::from_source`]), with what it
//! means (for the server's `--help`).

/// The application's variables.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "PAYMENT_CURRENCY",
        "ISO 4217 currency of usage costs and receipts (default THB)",
    ),
    (
        "SITE_BASE_URL",
        "public base URL browsers and providers are sent to (default: the address the server listens on)",
    ),
    (
        "PAYMENT_SUCCESS_PATH",
        "where the provider sends the payer after paying (default /payments/thanks)",
    ),
    (
        "PAYMENT_CANCEL_PATH",
        "where the provider sends the payer after cancelling (default /me)",
    ),
    (
        "WEBHOOK_QUEUE_LIMIT",
        "verified webhook events waiting for the database writer, at most (default 1024)",
    ),
    (
        "WEBHOOK_WRITERS",
        "database writers taking webhook batches from the queue (default 1 on SQLite, which has one write lock; 2 on PostgreSQL, to overlap round trips)",
    ),
    (
        "WEBHOOK_QUEUE_WAIT_MS",
        "how long a webhook waits for room in a full queue before it gets 503 + Retry-After (default 2000)",
    ),
    (
        "RATE_CPU_CORE_HOUR",
        "price of one CPU core-hour in minor units (default 100)",
    ),
    (
        "RATE_GPU_HOUR",
        "price of one GPU-hour in minor units (default 5000)",
    ),
    (
        "RECONCILE_INTERVAL_SECS",
        "seconds between reconciliation cycles of `web serve` (default 60; 0: no background task, `web reconcile` still works)",
    ),
    (
        "RECONCILE_AFTER_SECS",
        "an open payment this old (and every RECONCILE_AFTER_SECS after) is looked up at the provider (default 900)",
    ),
    (
        "CHECKOUT_LIFETIME_SECS",
        "an unpaid checkout is expired after this long, here and (where the provider takes it) at the provider (default 86400)",
    ),
    (
        "RECONCILE_RATE",
        "provider look-ups per second per provider and server instance, at most (default 5)",
    ),
    (
        "ISSUER_NAME",
        "the organisation receipts are issued by, as printed on them (at most 120 characters)",
    ),
    (
        "ISSUER_ADDRESS",
        "its postal address on receipts: lines separated by \\n or line breaks (at most 8 lines of 120 characters)",
    ),
    (
        "ISSUER_TAX_ID",
        "its tax id on receipts (VAT, TIN, ...): letters, digits, spaces and -./ (at most 40 characters)",
    ),
];
