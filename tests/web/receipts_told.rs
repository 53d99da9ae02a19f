//! Receipts told the way their readers need them: refunds numbered per receipt, with the note to
//! the payer and never the internal reason or the admin's name; statuses in words; the PDF
//! listing refunds; admin money net of refunds (page and CSV); voiding; one receipt for all
//! unbilled usage; "Try again" after a failed or cancelled payment.

use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;

use crate::receipts::{assert_well_formed_pdf, shows};
use crate::support::{location, Browser, Db, TestServer};

/// Pays `receipt` as its owner through the dummy provider; returns the payment id.
async fn pay(owner: &Browser, receipt: i64) -> String {
    let checkout = owner.pay_now(receipt).await;
    let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();
    assert_eq!(
        owner.simulate(&payment, "succeed").await.status(),
        StatusCode::SEE_OTHER
    );
    payment
}

/// Refunds `amount` of `payment` as admin `root` through the form and its confirmation page;
/// returns where the confirmation sent the browser.
async fn refund(root: &Browser, payment: &str, amount: &str, reason: &str, note: &str) -> String {
    let path = format!("/admin/payments/{payment}/refund");
    let resp = root
        .submit(
            &path,
            &[("amount", amount), ("reason", reason), ("payer_note", note)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "the confirmation page");
    let page = resp.text().await.unwrap();
    let token = page
        .split("name=\"request\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's request token")
        .to_string();
    let resp = root
        .submit(
            &path,
            &[
                ("amount", amount),
                ("reason", reason),
                ("payer_note", note),
                ("confirm", "yes"),
                ("request", &token),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "refunded");
    location(&resp)
}

crate::on_both_backends! {
    refunds_told_on: refunds_are_told_to_the_payer_with_their_note_and_to_admins_net, refunds_told_on_postgres, "web_refunds_told";
}

async fn refunds_told_on(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("alice", Role::User);
    server.add_user("bob", Role::User);
    server.add_user("root", Role::Admin);
    let root = Browser::login(&server, "root").await;
    // Bob's refund comes first, so alice's first refund is not the first one stored.
    server.add_usage("bob", "b1", 4);
    let bob = Browser::login(&server, "bob").await;
    let bobs = bob.create_receipt().await;
    let bob_payment = pay(&bob, bobs).await;
    refund(&root, &bob_payment, "4.00", "bob asked", "").await;

    server.add_usage("alice", "a1", 10);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    let payment = pay(&alice, receipt).await;
    let back = refund(
        &root,
        &payment,
        "2.00",
        "job 17 ran twice (ticket 4711)",
        "Returned for the duplicated run of job 17",
    )
    .await;
    let notice = root.get_text(&back).await;
    assert!(
        notice.contains("Refund #1 of THB 2.00 succeeded."),
        "numbered per receipt: {notice}"
    );
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::PartiallyRefunded);

    // The payer: the status in words, the refund numbered on the receipt with its note; neither
    // the reason nor who started it.
    let page = alice.get_text(&format!("/receipts/{receipt}")).await;
    assert!(page.contains("Partially refunded, THB 2.00 back"), "{page}");
    assert!(page.contains("<td data-label=\"#\">1</td>"), "{page}");
    assert!(
        page.contains("Returned for the duplicated run of job 17"),
        "{page}"
    );
    assert!(!page.contains("4711") && !page.contains("Started by"), "{page}");
    assert!(!page.contains(">root<"), "no admin name for the payer");
    assert!(!page.contains("partially_refunded<"), "no raw status names");
    // The admin sees all of it.
    let admin_page = root.get_text(&format!("/receipts/{receipt}")).await;
    assert!(admin_page.contains("job 17 ran twice (ticket 4711)") && admin_page.contains(">root<"));

    // The PDF lists the refund with its note, not the reason.
    let resp = alice.get(&format!("/receipts/{receipt}.pdf")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let pdf = resp.bytes().await.unwrap();
    assert_well_formed_pdf(&pdf);
    for text in [
        "Refunds",
        "Refunded in all: THB 2.00",
        "refunded",
        "Partially refunded, THB 2.00 back",
    ] {
        assert!(shows(&pdf, text), "the PDF lacks {text:?}");
    }
    let body = String::from_utf8_lossy(&pdf);
    assert!(body.contains("duplicated"), "the note (wrapped in its column)");
    assert!(!body.contains("4711"), "never the internal reason");

    // The thanks page tells a partly refunded payment as such, without waiting for anything.
    let thanks = alice
        .get_text(&format!("/payments/thanks?payment={payment}"))
        .await;
    assert!(thanks.contains("Payment received, partly refunded"), "{thanks}");
    assert!(thanks.contains("THB 2.00 of it has been refunded"), "{thanks}");
    assert!(!thanks.contains("thanks.js"), "nothing left to poll for");

    // My Usage lists it in words.
    assert!(alice
        .get_text("/me")
        .await
        .contains("Partially refunded, THB 2.00 back"));

    // Admin money: billed 14, received 14, refunded 6, net 8.
    let list = root.get_text("/admin/receipts").await;
    for (class, value) in [
        ("billed", "THB 14.00"),
        ("received", "THB 14.00"),
        ("refunded", "THB 6.00"),
        ("net", "<strong>THB 8.00</strong>"),
    ] {
        assert!(
            list.contains(&format!(
                "<td data-label=\"{}\" class=\"num {class}\">{value}</td>",
                capitalised(class)
            )),
            "{class} {value}: {list}"
        );
    }
    assert!(list.contains("Refunded, THB 4.00 back"), "{list}");
    let csv = root.get_text("/admin/receipts.csv").await;
    let line = csv
        .lines()
        .find(|l| l.starts_with(&format!("{receipt},alice,partially_refunded,")))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        line.contains(",THB,1000,10.00,1000,10.00,200,2.00,800,8.00,dummy,"),
        "{line}"
    );
    assert!(line.ends_with(",1,no"), "one refund, no dispute: {line}");
}

fn capitalised(word: &str) -> String {
    let mut w = word.to_string();
    w[..1].make_ascii_uppercase();
    w
}

crate::on_both_backends! {
    void_on: an_admin_voids_an_unpaid_receipt_and_its_usage_is_unbilled_again, void_on_postgres, "web_void";
}

async fn void_on(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    server.add_usage("alice", "job-to-void", 3);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    let root = Browser::login(&server, "root").await;
    let path = format!("/admin/receipts/{receipt}/void");
    // A reason is required; users may not void.
    assert_eq!(
        root.submit(&path, &[("reason", " ")]).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        alice.submit(&path, &[("reason", "mine")]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);

    let resp = root
        .submit(&path, &[("reason", "billed to the wrong project")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Void);
    let audited = server.audit("receipt.void", Some(receipt));
    assert_eq!(audited.len(), 1);
    assert!(audited[0].detail.contains("billed to the wrong project") && audited[0].actor == "user:root");
    // Its usage can be billed again; the payer is told, without the admin's name.
    let me = alice.get_text("/me").await;
    assert!(
        me.contains("name=\"record\""),
        "the usage is unbilled again: {me}"
    );
    let page = alice.get_text(&format!("/receipts/{receipt}")).await;
    assert!(page.contains("This receipt was voided") && page.contains("billed to the wrong project"));
    assert!(!page.contains("by root") && !page.contains("Pay now"), "{page}");
    let again = alice.create_receipt().await;
    assert_ne!(again, receipt);
    // Only unpaid receipts are voided.
    let payment = pay(&alice, again).await;
    assert!(!payment.is_empty());
    let resp = root
        .submit(
            &format!("/admin/receipts/{again}/void"),
            &[("reason", "too late")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(server.receipt_status(again), ReceiptStatus::Paid);
    assert!(root
        .get_text("/admin/receipts?status=void")
        .await
        .contains(&format!("#{receipt}<")));
}

crate::on_both_backends! {
    bill_all_on: one_receipt_bills_all_unbilled_usage_in_the_chosen_dates, bill_all_on_postgres, "web_bill_all";
}

async fn bill_all_on(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("alice", Role::User);
    let mut rows = String::new();
    for i in 0..320 {
        let day = if i < 300 { 1 + i % 28 } else { 1 };
        let month = if i < 300 { 11 } else { 10 };
        rows.push_str(&format!(
            "alice,job-{i:04},test job,3600,0,2026-{month:02}-{day:02}T12:00:00Z\n"
        ));
    }
    server.import_usage_rows(&rows);
    let alice = Browser::login(&server, "alice").await;
    let me = alice.get_text("/me?from=2026-11-01&to=2026-11-30").await;
    assert!(
        me.contains("Create one receipt for all 300 records in these dates (THB 300.00)"),
        "{me}"
    );
    let resp = alice
        .submit("/receipts/all", &[("from", "2026-11-01"), ("to", "2026-11-30")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let receipt: i64 = location(&resp).trim_start_matches("/receipts/").parse().unwrap();
    let r = server.store().receipt(receipt).unwrap().unwrap();
    assert_eq!(r.total_minor, 30_000);
    assert_eq!(server.store().usage_for_receipt(receipt).unwrap().len(), 300);
    // The October rows are left; then they go on a second receipt.
    let me = alice.get_text("/me").await;
    assert!(
        me.contains("Create one receipt for all 20 records (THB 20.00)"),
        "{me}"
    );
    let resp = alice.submit("/receipts/all", &[("from", ""), ("to", "")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(alice.get_text("/me").await.contains("No unbilled usage."));
    // Nothing left: said plainly.
    let resp = alice.submit("/receipts/all", &[("from", ""), ("to", "")]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("there is no unbilled usage in these dates"));
    assert_eq!(server.audit("receipt.create", None).len(), 2);
}

#[actix_web::test]
async fn a_failed_or_cancelled_payment_offers_try_again() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_usage("alice", "j", 2);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    let checkout = alice.pay_now(receipt).await;
    let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();
    let resp = alice.simulate(&payment, "fail").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let page = alice.get_text(&location(&resp)).await;
    assert!(
        page.contains("Payment failed") && page.contains("id=\"try-again\""),
        "{page}"
    );
    assert!(
        page.contains(&format!("action=\"/payments/receipts/{receipt}/start\"")),
        "{page}"
    );
    // Cancelled at the provider: back on My Usage, with Try again.
    let checkout = alice.pay_now(receipt).await;
    let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();
    let resp = alice.simulate(&payment, "cancel").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let page = alice.get_text(&location(&resp)).await;
    assert!(
        page.contains(&format!("Try again: pay receipt #{receipt}")),
        "{page}"
    );
    // Paid: nothing to try again.
    let checkout = alice.pay_now(receipt).await;
    let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();
    let resp = alice.simulate(&payment, "succeed").await;
    let page = alice.get_text(&location(&resp)).await;
    assert!(!page.contains("try-again"), "{page}");
}

/// All receipts pages by position (older and newer receipts, 50 at a time), and its CSV holds
/// every matching receipt, written in chunks: the same lines whatever the chunk size, and
/// through HTTP as a stream.
#[actix_web::test]
async fn all_receipts_pages_by_position_and_its_csv_is_complete_across_chunks() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    let alice_id = server.store().user_by_username("alice").unwrap().unwrap().id;
    for n in 1..=60 {
        let day = 1 + n % 28;
        server.add_usage_ended(
            "alice",
            &format!("j{n}"),
            n,
            &format!("2026-11-{day:02}T12:00:00Z"),
        );
        server
            .store()
            .create_receipt_for_unbilled(alice_id, None, None, "test")
            .unwrap();
    }
    let root = Browser::login(&server, "root").await;
    let numbers = |page: &str| -> Vec<i64> {
        page.match_indices("<a href=\"/receipts/")
            .filter_map(|(i, m)| page[i + m.len()..].split('"').next()?.parse().ok())
            .collect()
    };
    let link = |page: &str, rel: &str| -> Option<String> {
        let end = page.find(&format!("\" rel=\"{rel}\""))?;
        let start = page[..end].rfind("href=\"")? + 6;
        Some(page[start..end].replace("&#x2F;", "/").replace("&amp;", "&"))
    };
    let newest = root.get_text("/admin/receipts").await;
    assert!(
        newest.contains("60 receipts."),
        "the count of the whole set: {newest}"
    );
    assert_eq!(numbers(&newest).len(), 50);
    assert!(link(&newest, "prev").is_none());
    let older = root
        .get_text(&link(&newest, "next").expect("older receipts"))
        .await;
    assert_eq!(numbers(&older).len(), 10);
    assert!(
        numbers(&older).iter().all(|n| !numbers(&newest).contains(n)),
        "no overlap"
    );
    assert!(link(&older, "next").is_none());
    let back = root
        .get_text(&link(&older, "prev").expect("newer receipts"))
        .await;
    assert_eq!(
        numbers(&back),
        numbers(&newest),
        "newer receipts are the first page again"
    );
    let http = root.get_text("/admin/receipts.csv").await;
    assert_eq!(http.lines().count(), 61, "the header and 60 receipts: {http}");
    let filter = payments_store::ReceiptFilter::default();
    let mut chunked = String::new();
    let written = payments_app::receipts::export::stream_csv(server.store(), &filter, 7, |text| {
        chunked.push_str(&text);
        true
    })
    .unwrap();
    assert_eq!(written, 60);
    assert_eq!(chunked, http, "chunks of 7 give the same file");
    let ids: Vec<i64> = http
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, none twice: {ids:?}"
    );
    // A reader that goes away stops the writing.
    let mut calls = 0;
    payments_app::receipts::export::stream_csv(server.store(), &filter, 7, |_| {
        calls += 1;
        calls < 2
    })
    .unwrap();
    assert_eq!(calls, 2);
}

/// The audit log pages by position too, and its text search says where it looked.
#[actix_web::test]
async fn the_audit_log_pages_by_position_and_says_where_its_text_search_looked() {
    let server = TestServer::start().await;
    server.add_user("root", Role::Admin);
    for i in 0..60 {
        server.add_user(&format!("member{i:02}"), Role::User);
    }
    let root = Browser::login(&server, "root").await;
    let link = |page: &str, rel: &str| -> Option<String> {
        let end = page.find(&format!("\" rel=\"{rel}\""))?;
        let start = page[..end].rfind("href=\"")? + 6;
        Some(page[start..end].replace("&#x2F;", "/").replace("&amp;", "&"))
    };
    let subjects = |page: &str| -> Vec<String> {
        page.match_indices("data-label=\"Subject\" class=\"id\">")
            .map(|(i, m)| {
                page[i + m.len()..]
                    .split('<')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let newest = root.get_text("/admin/audit?action=user.create").await;
    assert_eq!(subjects(&newest).len(), 50, "{newest}");
    let older = root
        .get_text(&link(&newest, "next").expect("older entries"))
        .await;
    assert_eq!(subjects(&older).len(), 11, "60 members and root");
    assert!(
        subjects(&older).iter().all(|s| !subjects(&newest).contains(s)),
        "no overlap"
    );
    let back = root.get_text(&link(&older, "prev").expect("newer entries")).await;
    assert_eq!(subjects(&back), subjects(&newest));
    let searched = root.get_text("/admin/audit?q=member07").await;
    assert!(
        searched.contains("The text is searched in the newest 5000 entries"),
        "{searched}"
    );
    assert_eq!(subjects(&searched).len(), 1, "{searched}");
}

/// A receipt of 1,200 lines shows them 500 at a time, in receipt order, with a link to the next
/// ones; its PDF holds them all.
#[actix_web::test]
async fn a_long_receipt_shows_its_lines_a_page_at_a_time_and_its_pdf_all_of_them() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    let mut rows = String::new();
    for i in 0..1_200 {
        rows.push_str(&format!(
            "alice,job-{i:05},task,60,0,2026-11-{:02}T12:00:00Z\n",
            1 + i % 28
        ));
    }
    server.import_usage_rows(&rows);
    let alice = Browser::login(&server, "alice").await;
    let resp = alice.submit("/receipts/all", &[("from", ""), ("to", "")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let receipt_path = location(&resp);
    let jobs = |page: &str| -> Vec<String> {
        page.match_indices("<td class=\"id\">job-")
            .map(|(i, m)| {
                format!(
                    "job-{}",
                    page[i + m.len()..].split('<').next().unwrap_or_default()
                )
            })
            .collect()
    };
    let next = |page: &str| -> Option<String> {
        let end = page.find("\" rel=\"next\"")?;
        let start = page[..end].rfind("href=\"")? + 6;
        Some(page[start..end].replace("&#x2F;", "/").replace("&amp;", "&"))
    };
    let mut seen: Vec<String> = Vec::new();
    let mut page = alice.get_text(&receipt_path).await;
    assert!(
        page.contains("500 of this receipt&#x27;s 1200 lines below")
            || page.contains("500 of this receipt's 1200 lines below"),
        "{page}"
    );
    let mut pages = 0;
    loop {
        pages += 1;
        let shown = jobs(&page);
        assert!(shown.len() <= 500);
        seen.extend(shown);
        match next(&page) {
            Some(link) => page = alice.get_text(&link).await,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 1_200, "every line once");
    let distinct: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), 1_200, "no line twice");
    // In receipt order: by the day the job ended, then job id.
    let day = |job: &str| 1 + job[4..].parse::<usize>().unwrap() % 28;
    assert!(
        seen.windows(2)
            .all(|w| (day(&w[0]), &w[0]) <= (day(&w[1]), &w[1])),
        "in order"
    );
    let pdf = alice
        .get(&format!("{receipt_path}.pdf"))
        .await
        .bytes()
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&pdf);
    assert!(
        body.contains("job-01199") && body.contains("job-00000"),
        "the PDF has every line"
    );
}

/// All receipts counts and totals any number of receipts by user, status and dates from the kept
/// sums; a provider or search filter over more than it adds up on a page says so instead.
#[actix_web::test]
async fn all_receipts_totals_come_from_kept_sums_and_a_wide_provider_filter_says_it_is_not_added_up() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    let alice = server.store().user_by_username("alice").unwrap().unwrap().id;
    let n = payments_store::RECEIPT_TOTALS_BOUND + 1;
    // Receipts and their succeeded payments written in bulk (the triggers keep the sums).
    server
        .store()
        .execute_sql_for_tests(&format!(
            "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {n}) \
             INSERT INTO receipts (user_id, currency, total_minor, status, created_at, paid_at) \
             SELECT {alice}, 'THB', 100, 'paid', 1764547200 + x, 1764547200 + x FROM s; \
             INSERT INTO payments (public_id, receipt_id, provider, external_id, idempotency_key, amount_minor, \
             currency, status, created_at, updated_at, refunded_minor, second_payment) \
             SELECT 'pay_' || id, id, 'dummy', 'ext_' || id, 'idem_' || id, 100, 'THB', 'succeeded', created_at, \
             created_at, 0, FALSE FROM receipts"
        ))
        .unwrap();
    let root = Browser::login(&server, "root").await;
    let all = root.get_text("/admin/receipts").await;
    assert!(all.contains(&format!("{n} receipts.")), "{all}");
    let digits = n.to_string();
    let grouped: Vec<String> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let received = format!(
        "<td data-label=\"Received\" class=\"num received\">THB {}.00",
        grouped.join(",")
    );
    assert!(all.contains(&received), "received in full: {all}");
    let dated = root
        .get_text("/admin/receipts?from=2025-12-01&to=2025-12-01&status=paid")
        .await;
    assert!(dated.contains(&format!("{n} receipts match.")), "{dated}");
    for wide in ["/admin/receipts?provider=dummy", "/admin/receipts?q=alice"] {
        let page = root.get_text(wide).await;
        assert!(
            page.contains(&format!(
                "More than {} receipts match this provider or search",
                payments_store::RECEIPT_TOTALS_BOUND
            )),
            "{wide}: {page}"
        );
        assert!(!page.contains("id=\"totals\""), "{wide}: no partial totals");
    }
    // One receipt fewer than the bound is added up.
    server
        .store()
        .execute_sql_for_tests("DELETE FROM payments WHERE id = (SELECT MIN(id) FROM payments)")
        .unwrap();
    let narrow = root.get_text("/admin/receipts?provider=dummy").await;
    assert!(narrow.contains(&format!("{} receipts match.", n - 1)), "{narrow}");
}

/// A receipt of 12,000 lines: its PDF is streamed (no length known up front) and complete: the
/// header, every object where the cross-reference table says, as many page objects as the page
/// tree counts, each line once in receipt order from the first to the last, and the last
/// page's footer.
async fn a_receipt_of_12000_lines_streams_a_complete_pdf(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("alice", Role::User);
    const LINES: usize = 12_000;
    let mut rows = String::new();
    for i in 0..LINES {
        // A minute apart from 2025-12-01 (unix seconds), so receipt order is job id order.
        rows.push_str(&format!(
            "alice,job-{i:05},task,60,0,{}\n",
            1_764_547_200 + 60 * i
        ));
    }
    server.import_usage_rows(&rows);
    let alice = Browser::login(&server, "alice").await;
    let resp = alice.submit("/receipts/all", &[("from", ""), ("to", "")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let receipt_path = location(&resp);
    let receipt: i64 = receipt_path.rsplit('/').next().unwrap().parse().unwrap();

    let resp = alice.get(&format!("{receipt_path}.pdf")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(
        resp.headers()["content-disposition"],
        format!("attachment; filename=\"receipt-{receipt}.pdf\"").as_str()
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(
        resp.headers().get("content-length").is_none(),
        "streamed as it is written, not built first"
    );
    let pdf = resp.bytes().await.unwrap();
    assert!(pdf.len() > 1_000_000, "{} bytes", pdf.len());
    assert!(pdf.starts_with(b"%PDF-1.7\n") && pdf.ends_with(b"\n%%EOF"));
    assert_well_formed_pdf(&pdf);
    let body = String::from_utf8_lossy(&pdf);
    let page_objects = body.matches("/Type /Page\n").count();
    let count: usize = body
        .split("/Type /Pages\n")
        .nth(1)
        .and_then(|tree| tree.split("/Count ").nth(1))
        .and_then(|c| c.split_whitespace().next())
        .and_then(|c| c.parse().ok())
        .expect("the page tree's /Count");
    assert_eq!(count, page_objects, "the page tree counts every page");
    assert!(count > LINES / 60, "{count} pages for {LINES} lines");
    // Every line once, in receipt order (by the time the job ended: here the job id's order).
    let jobs: Vec<&str> = body
        .match_indices("(job-")
        .map(|(i, _)| &body[i + 1..i + 10])
        .collect();
    assert_eq!(jobs.first(), Some(&"job-00000"));
    assert_eq!(jobs.last(), Some(&"job-11999"));
    assert!(shows(&pdf, "job-00000") && shows(&pdf, "job-11999"));
    assert_eq!(jobs.len(), LINES, "every line once");
    assert!(jobs.windows(2).all(|w| w[0] < w[1]), "in receipt order");
    assert!(
        shows(
            &pdf,
            &format!("HPC Usage Portal - Receipt {receipt} - page {count} of {count}")
        ),
        "the last page's footer"
    );
    let total = server.store().receipt(receipt).unwrap().unwrap().total().unwrap();
    assert!(shows(&pdf, &total.to_string()), "the total, after the lines");

    // The lines cannot be read once the PDF has started (the access check and the headers do not
    // need them): the download fails rather than end as if the PDF were whole.
    server
        .store()
        .execute_sql_for_tests("ALTER TABLE usage_records RENAME TO usage_records_gone;")
        .unwrap();
    // The connection is cut: after the head (a body that fails), or before it was flushed.
    let sent = alice
        .client
        .get(server.url(&format!("{receipt_path}.pdf")))
        .send()
        .await;
    if let Ok(resp) = sent {
        assert_eq!(resp.status(), StatusCode::OK, "the answer had started");
        let cut = resp.bytes().await;
        assert!(
            cut.is_err(),
            "a failed download, not {} bytes",
            cut.map_or(0, |b| b.len())
        );
    }
}

crate::on_both_backends! {
    a_receipt_of_12000_lines_streams_a_complete_pdf:
        a_receipt_of_12000_lines_streams_a_complete_pdf_sqlite,
        a_receipt_of_12000_lines_streams_a_complete_pdf_postgres,
        "pdf_12000_lines";
}
