//! The portal as payers and admins see it: layout that fits a phone, plain messages instead of
//! provider internals, pages that follow the payment's outcome, printable receipts.

use payments_store::Role;
use reqwest::StatusCode;

use crate::support::{location, Browser, Db, TestServer};

/// Every `<table` of a page sits in its own scroll box (`table-wrap`) or stacks on phones
/// (`stack`), and no amount column is one of those hidden on phones (`opt`).
fn assert_fits_a_phone(page: &str, what: &str) {
    assert!(page.contains("name=\"viewport\""), "{what}: no viewport meta");
    for (i, _) in page.match_indices("<table") {
        let before = &page[i.saturating_sub(30)..i];
        let tag_end = page[i..].find('>').map_or(page.len(), |e| i + e);
        let tag = &page[i..tag_end];
        assert!(
            before.contains("class=\"table-wrap\"") || tag.contains("stack"),
            "{what}: a table that widens the page: {tag}"
        );
    }
    for col in ["Cost</th>", "Total</th>", "Amount</th>"] {
        for (i, _) in page.match_indices(col) {
            let th = &page[page[..i].rfind("<th").unwrap_or(0)..i];
            assert!(
                !th.contains("opt"),
                "{what}: the {col} column is hidden on phones: {th}"
            );
        }
    }
}

#[actix_web::test]
async fn every_page_fits_a_phone_and_keeps_its_amounts_on_screen() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    for i in 0..30 {
        server.add_usage(
            "alice",
            &format!("job-with-a-long-identifier-{i:04}-0123456789abcdef"),
            1,
        );
    }
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    alice.pay_now(receipt).await;
    server.add_usage("alice", "job-late", 2);
    let me = alice.get_text("/me").await;
    assert_fits_a_phone(&me, "/me");
    let page = alice.get_text(&format!("/receipts/{receipt}")).await;
    assert_fits_a_phone(&page, "the receipt");
    assert!(
        page.contains("<code>pay_"),
        "the payment id is shown as a wrapping code"
    );

    let root = Browser::login(&server, "root").await;
    assert_fits_a_phone(&root.get_text("/admin/receipts").await, "/admin/receipts");
    let audit = root.get_text("/admin/audit").await;
    assert_fits_a_phone(&audit, "/admin/audit");
    assert!(
        audit.contains("data-label=\"Time\""),
        "stacked audit rows are labelled"
    );

    for (path, status) in [
        ("/receipts/999999", StatusCode::NOT_FOUND),
        ("/admin/audit?receipt=abc", StatusCode::OK),
    ] {
        let resp = root.get(path).await;
        assert_eq!(resp.status(), status, "{path}");
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("name=\"viewport\""),
            "{path}: error pages scale to phones too"
        );
    }

    let css = alice.get_text("/static/app.css").await;
    for rule in [
        "@media (max-width: 40rem)",
        ".opt { display: none; }",
        ".table-wrap { max-width: 100%; overflow-x: auto;",
        "overflow-wrap: anywhere",
    ] {
        assert!(css.contains(rule), "the stylesheet lacks {rule:?}");
    }
}

/// Stripe answers 401 (a wrong API key): the payer reads a plain message with a reference, not
/// Stripe's words; the audit log and the admin's view of the receipt keep the details.
#[cfg(feature = "stripe")]
#[actix_web::test]
async fn a_provider_error_reaches_the_payer_as_a_plain_message_and_the_audit_log_in_full() {
    use payments_stripe::testing::MockStripe;
    let stripe = MockStripe::start().await;
    let mut vars = stripe.env_vars();
    vars.retain(|(k, _)| *k != "STRIPE_SECRET_KEY");
    vars.push(("STRIPE_SECRET_KEY", "sk_test_WrongKeyForThisMockc123".into()));
    vars.push(("PAYMENT_PROVIDER", "stripe".into()));
    let server = TestServer::start_with(crate::support::Db::Sqlite, &vars).await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    server.add_usage("alice", "j1", 12);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;

    let back = alice.pay_now(receipt).await;
    let (payment, _) = server.payment_of(receipt);
    assert_eq!(
        back,
        format!("/receipts/{receipt}?problem=unavailable&ref={payment}"),
        "the payer is sent back to the receipt"
    );
    let page = alice.get_text(&back).await;
    assert!(
        page.contains(
            "The payment service could not start your payment. Nothing was charged; please try again later."
        ),
        "{page}"
    );
    assert!(
        page.contains(&format!("<code>{payment}</code>")),
        "the reference is shown"
    );
    for internal in [
        "Invalid API Key",
        "HTTP 401",
        "stripe error",
        "sk_test_",
        "127.0.0.1:",
        "invalid_request_error",
    ] {
        assert!(!page.contains(internal), "the payer sees {internal:?}: {page}");
    }
    // A crafted link shows no words of its own.
    let crafted = alice
        .get_text(&format!("/receipts/{receipt}?problem=Call+0800&ref=<b>x</b>"))
        .await;
    assert!(
        !crafted.contains("Call 0800") && !crafted.contains("&lt;b&gt;x"),
        "{crafted}"
    );

    let intent = server.audit("payment.intent", Some(receipt));
    assert!(
        intent
            .iter()
            .any(|e| e.detail.contains("Invalid API Key") && e.detail.contains("401")),
        "the audit log has the provider's answer: {intent:?}"
    );
    let root = Browser::login(&server, "root").await;
    let admin_view = root.get_text(&format!("/receipts/{receipt}")).await;
    assert!(
        admin_view.contains("id=\"operator-detail\"") && admin_view.contains("Invalid API Key"),
        "admins see the details: {admin_view}"
    );
    assert!(!alice
        .get_text(&format!("/receipts/{receipt}"))
        .await
        .contains("operator-detail"));
}

/// A receipt below Stripe's minimum charge (THB 10.00): no 422, the receipt says why and stops
/// offering "Pay now".
#[cfg(feature = "stripe")]
#[actix_web::test]
async fn a_receipt_below_the_providers_minimum_says_why_instead_of_offering_pay_now() {
    use payments_stripe::testing::MockStripe;
    let stripe = MockStripe::start().await;
    let mut vars = stripe.env_vars();
    vars.push(("PAYMENT_PROVIDER", "stripe".into()));
    let server = TestServer::start_with(crate::support::Db::Sqlite, &vars).await;
    server.add_user("alice", Role::User);
    server.add_usage("alice", "small", 5);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;

    // Known before any call: the page offers no Pay now and says why.
    let page = alice.get_text(&format!("/receipts/{receipt}")).await;
    assert!(page.contains("id=\"cannot-pay\""), "{page}");
    assert!(
        page.contains("THB 5.00") && page.contains("minimum charge of THB 10.00"),
        "the reason names the amount and the minimum: {page}"
    );
    assert!(!page.contains("Pay now"), "no Pay now that cannot work: {page}");
    assert!(
        !page.contains("could not start your payment"),
        "not reported as an outage"
    );
    // Posted anyway (an old page): refused with the reason, nothing started.
    let resp = alice
        .submit(
            &format!("/payments/receipts/{receipt}/start"),
            &[("provider", "stripe")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("minimum charge of THB 10.00"));
    assert!(stripe.session_ids().is_empty(), "Stripe was never asked");
}

/// The thanks page's heading follows the outcome; fail and cancel return with a message; payers
/// see no operator advice; the dummy checkout offers nothing for a closed payment.
#[actix_web::test]
async fn outcomes_have_their_own_headings_and_closed_payments_offer_nothing() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    server.add_usage("alice", "j1", 12);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;

    // Processing: no operator advice for the payer, which an admin does get.
    let checkout = alice.pay_now(receipt).await;
    let first = checkout.rsplit('=').next().unwrap().to_string();
    let thanks = alice.get_text(&format!("/payments/thanks?payment={first}")).await;
    assert!(
        thanks.contains("<h1 id=\"outcome\" data-outcome=\"processing\">Payment processing</h1>"),
        "{thanks}"
    );
    assert!(
        !thanks.contains("webhook") && !thanks.contains("operator-hints"),
        "{thanks}"
    );
    assert!(thanks.contains("<script src=\"/static/thanks.js\"></script>") && !thanks.contains("<script>"));
    let root = Browser::login(&server, "root").await;
    let admin_thanks = root.get_text(&format!("/payments/thanks?payment={first}")).await;
    assert!(admin_thanks.contains("operator-hints") && admin_thanks.contains("webhook"));

    // Fail: back on a page headed "Payment failed", never "Thank you".
    let resp = alice.simulate(&first, "fail").await;
    let failed = alice.get_text(&crate::support::location(&resp)).await;
    assert!(failed.contains(">Payment failed</h1>"), "{failed}");
    assert!(
        !failed.contains("Thank you") && failed.contains("nothing was charged"),
        "{failed}"
    );
    // The failed payment's checkout offers nothing more, and refuses a late choice.
    let page = alice.get_text(&checkout).await;
    assert!(
        page.contains("id=\"closed\"") && !page.contains(">Succeed<"),
        "{page}"
    );
    let late = alice.simulate(&first, "succeed").await;
    assert_eq!(late.status(), StatusCode::CONFLICT);

    // Cancel: back where the provider's cancel leads, with a message.
    let checkout = alice.pay_now(receipt).await;
    let second = checkout.rsplit('=').next().unwrap().to_string();
    let resp = alice.simulate(&second, "cancel").await;
    let back = crate::support::location(&resp);
    assert_eq!(back, server.url(&format!("/me?cancelled={second}")));
    let me = alice.get_text(&back).await;
    assert!(
        me.contains(&format!(
            "You cancelled the payment of THB 12.00 for receipt #{receipt}; nothing was charged."
        )),
        "{me}"
    );
    let thanks = alice
        .get_text(&format!("/payments/thanks?payment={second}"))
        .await;
    assert!(
        thanks.contains(">Payment cancelled</h1>") && !thanks.contains("Thank you"),
        "{thanks}"
    );
    let page = alice
        .get_text(&format!("/payments/simulate?payment={second}"))
        .await;
    assert!(
        !page.contains(">Succeed<"),
        "a cancelled payment cannot succeed: {page}"
    );
    // Someone else's payment id on /me says nothing.
    server.add_user("bob", Role::User);
    let bob = Browser::login(&server, "bob").await;
    assert!(!bob.get_text(&back).await.contains("You cancelled"));

    // Paid: the heading thanks the payer.
    let checkout = alice.pay_now(receipt).await;
    let third = checkout.rsplit('=').next().unwrap().to_string();
    let resp = alice.simulate(&third, "succeed").await;
    let paid = alice.get_text(&crate::support::location(&resp)).await;
    assert!(paid.contains(">Thank you: payment received</h1>"), "{paid}");
    assert!(
        !alice.get_text(&checkout).await.contains(">Succeed<"),
        "a paid payment offers nothing"
    );
}

/// Line items in the order the jobs ended; the print stylesheet leaves out the site's navigation
/// and buttons; long payment ids wrap.
#[actix_web::test]
async fn receipts_list_lines_by_date_and_print_without_navigation() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.import_usage_rows(
        "alice,job-c,late,3600,0,2026-11-20T08:00:00Z\nalice,job-a,early,3600,0,2026-11-02T08:00:00Z\nalice,job-b,middle,3600,0,2026-11-10T08:00:00Z\n",
    );
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    let page = alice.get_text(&format!("/receipts/{receipt}")).await;
    let at = |job: &str| {
        page.find(&format!(">{job}<"))
            .unwrap_or_else(|| panic!("{job} missing"))
    };
    assert!(
        at("job-a") < at("job-b") && at("job-b") < at("job-c"),
        "lines by date"
    );

    let css = alice.get_text("/static/app.css").await;
    let print = &css[css.find("@media print").expect("a print stylesheet")..];
    for rule in ["header nav", "footer", "button", "form"] {
        assert!(
            print.split('{').nth(1).unwrap_or_default().contains(rule),
            "printing hides {rule}"
        );
    }
    assert!(
        print.contains("code { overflow-wrap: anywhere; }"),
        "ids wrap in print"
    );
    assert!(
        print.contains(".opt { display: table-cell !important; }"),
        "paper shows every column, whatever the window's width"
    );
}

/// The `value`s of the record checkboxes on a page of My Usage.
fn record_ids(page: &str) -> Vec<String> {
    page.match_indices("name=\"record\" value=\"")
        .map(|(i, m)| {
            page[i + m.len()..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[actix_web::test]
async fn my_usage_filters_by_date_pages_and_totals_the_selection() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    for i in 0..55 {
        server.add_usage_ended("alice", &format!("nov01-{i:03}"), 1, "2026-11-01T12:00:00Z");
    }
    for i in 0..5 {
        server.add_usage_ended("alice", &format!("nov20-{i:03}"), 2, "2026-11-20T08:00:00Z");
    }
    let alice = Browser::login(&server, "alice").await;

    // Paging: 50 a page (keyset: later and earlier records), nothing pre-checked, the script is
    // a file.
    let me = alice.get_text("/me").await;
    assert_eq!(record_ids(&me).len(), 50, "the first page holds 50 rows");
    assert!(!me.contains(" checked"), "no record is pre-checked");
    assert!(me.contains("60 unbilled records"), "the count of the whole list");
    assert!(
        me.contains("worth THB 65.00"),
        "the total of the whole list, from integers"
    );
    assert!(me.contains("50 of them below, oldest first"), "{me}");
    let later = link(&me, "next").expect("a link to the later records");
    assert!(link(&me, "prev").is_none(), "nothing earlier than the first page");
    assert!(me.contains("<script src=\"/static/usage.js\"></script>") && !me.contains("<script>"));
    assert!(me.contains("data-select=\"all\"") && me.contains("data-select=\"none\""));
    assert!(
        me.contains("id=\"selection-total\">THB 0.00<"),
        "the selection starts empty"
    );
    assert!(
        me.contains("data-minor=\"100\""),
        "each row carries its cost in minor units"
    );
    let page2 = alice.get_text(&later).await;
    assert_eq!(record_ids(&page2).len(), 10);
    assert!(link(&page2, "next").is_none(), "nothing later than the last page");
    let back = alice.get_text(&link(&page2, "prev").expect("a link back")).await;
    assert_eq!(
        record_ids(&back),
        record_ids(&me),
        "earlier records are the first page again"
    );
    let first: std::collections::HashSet<_> = record_ids(&me).into_iter().collect();
    assert!(
        record_ids(&page2).iter().all(|id| !first.contains(id)),
        "pages do not overlap"
    );

    let js = alice.get("/static/usage.js").await;
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let js = js.text().await.unwrap();
    assert!(
        js.contains("BigInt") && !js.contains("parseFloat"),
        "integer sums only"
    );

    // Date filter: both ends inclusive, by the day the job ended (UTC).
    let late = alice.get_text("/me?from=2026-11-15&to=2026-11-20").await;
    assert_eq!(record_ids(&late).len(), 5);
    assert!(late.contains("value=\"2026-11-15\"") && late.contains("worth THB 10.00"));
    let early = alice.get_text("/me?to=2026-11-01").await;
    assert!(early.contains("55 unbilled records"));
    assert!(
        link(&early, "next").is_some_and(|l| l.starts_with("/me?to=2026-11-01&after=")),
        "paging links keep the filter"
    );
    let none = alice.get_text("/me?from=2026-12-01").await;
    assert!(none.contains("No unbilled usage ended in these dates."));

    // Bad values: the page, with a message naming what is wrong.
    for (path, says) in [
        ("/me?from=yesterday", "From \"yesterday\" is not a date"),
        ("/me?to=2026-13-01", "To \"2026-13-01\" is not a date"),
        (
            "/me?from=2026-11-20&to=2026-11-01",
            "From (2026-11-20) is after To (2026-11-01)",
        ),
        ("/me?after=abc", "\"abc\" is not a position in this list"),
        ("/me?before=1.x", "\"1.x\" is not a position in this list"),
    ] {
        let resp = alice.get(path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("class=\"error-msg\""), "{path}: {body}");
        assert!(body.contains(&says.replace('"', "&quot;")), "{path}: {says}");
        assert!(body.contains("Unbilled usage"), "{path}: the page itself");
    }

    // Submitting nothing: the page again with a clear message.
    let resp = alice.submit("/receipts", &[("from", "2026-11-15")]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = resp.text().await.unwrap();
    assert!(body.contains("Nothing was selected"), "{body}");
    assert_eq!(record_ids(&body).len(), 5, "the same filter is kept");

    // Two selected records: the receipt shows their total.
    let ids = record_ids(&late);
    let resp = alice
        .submit("/receipts", &[("record", &ids[0]), ("record", &ids[1])])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let receipt = alice.get_text(&location(&resp)).await;
    assert!(receipt.contains("THB 4.00"), "{receipt}");
    assert!(alice.get_text("/me").await.contains("58 unbilled records"));
}

// Also on PostgreSQL: its LIKE is case-sensitive and needs the ESCAPE clause too.
crate::on_both_backends! {
    audit_filters_on: the_audit_log_filters_by_actor_date_and_text_with_second_times_and_text_badges, audit_filters_on_postgres, "web_audit_filters";
}

async fn audit_filters_on(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    server.add_usage("alice", "j1", 3);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    let checkout = alice.pay_now(receipt).await;
    let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();
    let resp = alice.simulate(&payment, "succeed").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let row = |page: &str, action: &str| page.contains(&format!("data-label=\"Action\">{action}"));
    let root = Browser::login(&server, "root").await;

    let all = root.get_text("/admin/audit").await;
    // Times to the second, ISO 8601.
    let t = all.find("<time datetime=\"").expect("a time") + "<time datetime=\"".len();
    let stamp = &all[t..t + 20];
    assert!(
        stamp.len() == 20 && &stamp[10..11] == "T" && stamp.ends_with('Z') && &stamp[16..17] == ":",
        "{stamp}"
    );
    let today = &stamp[..10];

    // Actor: only alice's entries.
    let by_alice = root.get_text("/admin/audit?actor=user:alice").await;
    let by_nobody = root.get_text("/admin/audit?actor=nobody").await;
    assert!(by_nobody.contains(">0 entries"), "{by_nobody}");
    assert!(!by_alice.contains(">0 entries") && row(&by_alice, "receipt.create"));
    assert!(!row(&by_alice, "usage.import"), "the import was by another actor");

    // Dates: today has everything, a day long past nothing.
    let today_page = root
        .get_text(&format!("/admin/audit?from={today}&to={today}"))
        .await;
    assert!(row(&today_page, "receipt.create"));
    assert!(root
        .get_text("/admin/audit?to=2001-01-01")
        .await
        .contains(">0 entries"));

    // Free text, matched literally (a % is not a wildcard).
    let found = root.get_text("/admin/audit?q=verified").await;
    assert!(
        row(&found, "payment.webhook") && !row(&found, "receipt.create"),
        "{found}"
    );
    assert!(root.get_text("/admin/audit?q=%25").await.contains(">0 entries"));

    // Bad values: the page with a message, the other filters still applied.
    let long = "x".repeat(101);
    for (path, says) in [
        (
            "/admin/audit?receipt=abc".to_string(),
            "receipt &quot;abc&quot; is not a receipt number",
        ),
        (
            "/admin/audit?from=soon".to_string(),
            "From &quot;soon&quot; is not a date",
        ),
        (format!("/admin/audit?q={long}"), "at most 100 are accepted"),
        (
            format!("/admin/audit?actor={long}"),
            "Actor is 101 characters long",
        ),
        (
            "/admin/audit?before=-1".to_string(),
            "&quot;-1&quot; is not a position in the log",
        ),
        (
            "/admin/audit?action=drop".to_string(),
            "action &quot;drop&quot; is not one the log records",
        ),
    ] {
        let resp = root.get(&path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("class=\"error-msg\"") && body.contains(says),
            "{path}: {says}"
        );
        assert!(body.contains("<h1>Audit log</h1>"), "{path}");
    }
    let filtered = root.get_text("/admin/audit?from=soon&actor=user:alice").await;
    assert!(!row(&filtered, "usage.import"), "the good filter still applies");

    // A verified webhook carries a text badge, not only an emoji.
    let webhooks = root.get_text("/admin/audit?action=payment.webhook").await;
    assert!(
        webhooks.contains("<span class=\"badge verified\">verified</span>"),
        "{webhooks}"
    );
    assert!(
        !webhooks.contains('\u{2705}'),
        "the emoji is replaced by the badge"
    );
}

// Both backends: the bare name becomes an exact `actor IN (...)`, the same on each.
crate::on_both_backends! {
    audit_actor_on: the_audit_actor_filter_finds_a_user_by_plain_username_and_only_exactly, audit_actor_on_postgres, "web_audit_actor";
}

/// Issue 25: `?actor=boss` found nothing, only `?actor=user:boss` did. A plain username now
/// finds that user's entries; `user:NAME`, `provider:NAME` and bare actors such as `system`
/// still work, and the match stays exact (no prefix or substring).
async fn audit_actor_on(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("boss", Role::User);
    server.add_user("bossy", Role::User);
    server.add_user("root", Role::Admin);
    server.add_usage("boss", "b1", 3);
    server.add_usage("bossy", "y1", 2);
    let boss = Browser::login(&server, "boss").await;
    let boss_receipt = boss.create_receipt().await;
    let checkout = boss.pay_now(boss_receipt).await;
    let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();
    assert_eq!(
        boss.simulate(&payment, "succeed").await.status(),
        StatusCode::SEE_OTHER
    );
    let bossy_receipt = Browser::login(&server, "bossy").await.create_receipt().await;
    let root = Browser::login(&server, "root").await;
    let row = |page: &str, action: &str| page.contains(&format!("data-label=\"Action\">{action}"));
    let subject = |page: &str, receipt: i64| page.contains(&format!(">receipt {receipt}<"));
    let total = |page: &str| {
        let end = page.find(" entries, newest first").expect("the count");
        let start = page[..end].rfind('>').expect("the count's tag") + 1;
        page[start..end].parse::<i64>().expect("a number")
    };

    let plain = root.get_text("/admin/audit?actor=boss").await;
    let full = root.get_text("/admin/audit?actor=user:boss").await;
    assert!(
        row(&plain, "receipt.create") && subject(&plain, boss_receipt),
        "{plain}"
    );
    assert!(
        !subject(&plain, bossy_receipt),
        "user:bossy is not user:boss: {plain}"
    );
    assert!(
        !row(&plain, "payment.webhook"),
        "the provider's entries are not the user's"
    );
    assert!(
        !row(&plain, "user.create"),
        "the accounts were created by `system`"
    );
    assert!(
        total(&plain) > 0 && total(&plain) == total(&full),
        "{plain}\n{full}"
    );
    assert!(
        subject(&full, boss_receipt) && !subject(&full, bossy_receipt),
        "{full}"
    );
    assert!(plain.contains("value=\"boss\""), "the filter is shown as written");

    // Exact, not a substring or prefix, in both spellings.
    for actor in ["bos", "oss", "user:bos", "user:", "ser:boss", "%25", "boss%25"] {
        let page = root.get_text(&format!("/admin/audit?actor={actor}")).await;
        assert_eq!(total(&page), 0, "{actor}: {page}");
    }

    // The other actors: a provider, a bare system actor.
    let provider = root.get_text("/admin/audit?actor=provider:dummy").await;
    assert!(
        row(&provider, "payment.webhook") && !row(&provider, "receipt.create"),
        "{provider}"
    );
    // What the README says a verified webhook shows: the badge and the signature's method.
    assert!(
        provider.contains("payment.webhook <span class=\"badge verified\">verified</span>")
            && provider.contains("signature:</span> verified (hmac-sha256)</div>"),
        "{provider}"
    );
    let system = root.get_text("/admin/audit?actor=system").await;
    assert!(
        row(&system, "user.create") && !row(&system, "receipt.create"),
        "{system}"
    );
    assert_eq!(total(&system), 3, "the three accounts: {system}");

    // The field says what it takes.
    assert!(
        plain.contains("a username, or <code>user:NAME</code>, <code>provider:NAME</code>"),
        "the hint under the actor field: {plain}"
    );
}

// Also on PostgreSQL: its LIKE is case-sensitive and needs the ESCAPE clause too.
crate::on_both_backends! {
    receipt_filters_on: admin_receipts_filter_search_total_and_export_csv_from_integers, receipt_filters_on_postgres, "web_receipt_filters";
}

/// The text of the first totals cell of class `class` (`billed`, `received`, `refunded`, `net`).
fn cell(page: &str, class: &str) -> String {
    let open = format!("class=\"num {class}\">");
    let start = page.find(&open).map(|i| i + open.len()).unwrap_or(0);
    page[start..]
        .split("</td>")
        .next()
        .unwrap_or_default()
        .replace("<strong>", "")
        .replace("</strong>", "")
}

/// The href of the pager link with `rel`, unescaped.
fn link(page: &str, rel: &str) -> Option<String> {
    let marker = format!("\" rel=\"{rel}\"");
    let end = page.find(&marker)?;
    let start = page[..end].rfind("href=\"")? + "href=\"".len();
    Some(page[start..end].replace("&#x2F;", "/").replace("&amp;", "&"))
}

async fn receipt_filters_on(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("alice", Role::User);
    server.add_user("bob_smith", Role::User);
    server.add_user("root", Role::Admin);
    let root = Browser::login(&server, "root").await;
    let empty = root.get_text("/admin/receipts").await;
    assert!(empty.contains("No receipts yet."), "empty state");

    server.add_usage("alice", "a1", 3);
    let alice = Browser::login(&server, "alice").await;
    let paid = alice.create_receipt().await;
    let checkout = alice.pay_now(paid).await;
    let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();
    let resp = alice.simulate(&payment, "succeed").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    server.add_usage("alice", "a2", 1);
    let unpaid_alice = alice.create_receipt().await;
    server.add_usage("bob_smith", "b1", 7);
    let bob = Browser::login(&server, "bob_smith").await;
    let unpaid_bob = bob.create_receipt().await;

    let all = root.get_text("/admin/receipts").await;
    assert_eq!(
        (cell(&all, "received"), cell(&all, "refunded"), cell(&all, "net")),
        (
            "THB 3.00".to_string(),
            "THB 0.00".to_string(),
            "THB 3.00".to_string()
        ),
        "only the paid receipt's payment was received"
    );
    assert!(
        all.contains("3 receipts.") && cell(&all, "billed") == "THB 11.00",
        "{all}"
    );
    let unpaid = root.get_text("/admin/receipts?status=unpaid").await;
    assert!(
        unpaid.contains("2 receipts match.") && cell(&unpaid, "billed") == "THB 8.00",
        "{unpaid}"
    );
    assert!(!unpaid.contains(&format!("#{paid}<")));
    let by_user = root.get_text("/admin/receipts?user=alice").await;
    assert!(
        by_user.contains("2 receipts match.") && cell(&by_user, "billed") == "THB 4.00",
        "{by_user}"
    );
    // Search: a receipt number, or part of a username (an _ is literal, not a wildcard).
    let by_id = root.get_text(&format!("/admin/receipts?q=%23{unpaid_bob}")).await;
    assert!(
        by_id.contains("1 receipt matches.") && cell(&by_id, "billed") == "THB 7.00",
        "{by_id}"
    );
    let by_name = root.get_text("/admin/receipts?q=b_s").await;
    assert!(by_name.contains("1 receipt matches"), "{by_name}");
    assert_eq!(
        cell(&by_name, "billed"),
        "THB 7.00",
        "the database's sums follow the search"
    );
    assert!(root
        .get_text("/admin/receipts?q=a_i")
        .await
        .contains("No receipts match these filters."));
    let today = root
        .get_text("/admin/receipts?from=2000-01-01&to=9999-12-31")
        .await;
    assert!(today.contains("3 receipts match"));
    assert_eq!(
        (cell(&today, "billed"), cell(&today, "received")),
        ("THB 11.00".to_string(), "THB 3.00".to_string()),
        "and the dates"
    );
    let paid_only = root.get_text("/admin/receipts?status=paid&user=alice").await;
    assert_eq!(cell(&paid_only, "billed"), "THB 3.00", "status and user together");
    assert!(root
        .get_text("/admin/receipts?to=2001-01-01")
        .await
        .contains("No receipts match these filters."));

    // Bad values: the page with a message.
    for (path, says) in [
        (
            "/admin/receipts?status=lost",
            "status &quot;lost&quot; is not a receipt status",
        ),
        (
            "/admin/receipts?from=2026-02-30",
            "From &quot;2026-02-30&quot; is not a date",
        ),
        (
            "/admin/receipts?before=x",
            "&quot;x&quot; is not a receipt number",
        ),
    ] {
        let resp = root.get(path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("class=\"error-msg\"") && body.contains(says),
            "{path}: {body}"
        );
    }

    // CSV of the filtered set, amounts from the integer minor units.
    assert!(
        unpaid.contains("href=\"&#x2F;admin&#x2F;receipts.csv?status=unpaid\""),
        "{unpaid}"
    );
    let resp = root.get("/admin/receipts.csv?status=unpaid").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "receipt,user,status,created,paid,currency,total_minor,total,received_minor,received,\
         refunded_minor,refunded,net_minor,net,provider,provider_payment_ids,refunds,disputed"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with(&format!("{unpaid_bob},bob_smith,unpaid,")),
        "{csv}"
    );
    assert!(
        lines[1].ends_with(",,THB,700,7.00,0,0.00,0,0.00,0,0.00,,,0,no"),
        "{csv}"
    );
    assert!(
        lines[2].starts_with(&format!("{unpaid_alice},alice,unpaid,"))
            && lines[2].ends_with(",THB,100,1.00,0,0.00,0,0.00,0,0.00,,,0,no")
    );
    let all_csv = root.get_text("/admin/receipts.csv").await;
    assert!(
        all_csv.contains(",paid,") && all_csv.contains(",THB,300,3.00,300,3.00,0,0.00,300,3.00,dummy,"),
        "{all_csv}"
    );
    assert_eq!(
        root.get("/admin/receipts.csv?status=lost").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        alice.get("/admin/receipts.csv").await.status(),
        StatusCode::NOT_FOUND,
        "admins only"
    );
}
