//! The portal as payers and admins see it: layout that fits a phone, plain messages instead of
//! provider internals, pages that follow the payment's outcome, printable receipts.

use payments_store::Role;
use reqwest::StatusCode;

use crate::support::{Browser, TestServer};

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
        ("/admin/audit?receipt=abc", StatusCode::BAD_REQUEST),
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
