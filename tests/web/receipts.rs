//! Receipts people can file: issuer details from the configuration, quantities, rates and the
//! rounding rule, the payment history, and the same receipt as a PDF for the same people.

use std::collections::HashMap;

use payments_store::Role;
use reqwest::StatusCode;

use crate::support::{Browser, Db, TestServer};

const ISSUER: [(&str, &str); 3] = [
    ("ISSUER_NAME", "Zürich HPC Centre"),
    // As written in a unit file or shell: `\n` between lines.
    ("ISSUER_ADDRESS", "1 Science Road\\nPathum Wan, Bangkok 10330"),
    ("ISSUER_TAX_ID", "0105551234567"),
];

async fn server_with_issuer(issuer: &[(&str, &str)]) -> TestServer {
    let vars: Vec<(&str, String)> = issuer.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let server = TestServer::start_with(Db::Sqlite, &vars).await;
    server.add_user("alice", Role::User);
    server.add_user("bob", Role::User);
    server.add_user("root", Role::Admin);
    // A job of CPU and GPU time (THB 1.50 + THB 25.00), and one second of a core, which costs a
    // fraction of a satang and is rounded up to one.
    server.import_usage_rows(
        "alice,job-b,training run,5400,1800,2026-11-10T08:00:00Z\nalice,job-a,a tiny job,1,0,2026-11-02T08:00:00Z\n",
    );
    server
}

/// The PDF's cross-reference table points at each object it lists, and the trailer at the
/// table: what a reader needs to open the file.
pub(crate) fn assert_well_formed_pdf(pdf: &[u8]) {
    assert!(pdf.starts_with(b"%PDF-"), "a PDF header");
    // The header's second line is binary, so offsets are taken on the bytes.
    let end = String::from_utf8_lossy(&pdf[pdf.len().saturating_sub(64)..]).into_owned();
    let tail = &end[end.rfind("startxref").expect("startxref")..];
    let xref: usize = tail
        .lines()
        .nth(1)
        .expect("offset")
        .trim()
        .parse()
        .expect("a number");
    assert!(tail.trim_end().ends_with("%%EOF"), "ends with %%EOF");
    assert!(
        pdf[xref..].starts_with(b"xref"),
        "startxref points at the xref table"
    );
    let table = String::from_utf8_lossy(&pdf[xref..]).into_owned();
    let mut lines = table.lines().skip(1);
    let header = lines.next().expect("subsection header");
    let count: usize = header.split(' ').nth(1).expect("count").parse().expect("count");
    assert!(count > 5, "{count} objects");
    for i in 1..count {
        let entry = lines.nth(if i == 1 { 1 } else { 0 }).expect("entry");
        let offset: usize = entry[..10].parse().expect("offset");
        assert!(entry.ends_with('n'), "object {i} in use: {entry}");
        assert!(
            pdf[offset..].starts_with(format!("{i} 0 obj").as_bytes()),
            "object {i} is where the table says"
        );
    }
    let text = String::from_utf8_lossy(pdf);
    assert!(text.contains("/BaseFont /Helvetica") && text.contains("/WinAnsiEncoding"));
}

/// The text the PDF draws, as `(...) Tj` literal strings (ASCII) or hex strings.
pub(crate) fn shows(pdf: &[u8], text: &str) -> bool {
    let body = String::from_utf8_lossy(pdf);
    let mut lossy = false;
    let bytes = payments_app::receipts::pdf::encode(text, &mut lossy);
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    body.contains(&format!("({text}) Tj")) || body.contains(&format!("<{hex}> Tj"))
}

#[actix_web::test]
async fn a_receipt_names_its_issuer_rates_rounding_and_payments() {
    let server = server_with_issuer(&ISSUER).await;
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    // Tera writes `/` as `&#x2F;` in text.
    let page = alice
        .get_text(&format!("/receipts/{receipt}"))
        .await
        .replace("&#x2F;", "/");
    for text in [
        "Zürich HPC Centre",
        "1 Science Road<br>Pathum Wan, Bangkok 10330",
        "Tax ID: 0105551234567",
        "Billed to",
        "id=\"status-text\">Unpaid: THB 26.51 due<",
        "<span>CPU 1h 30m 00s</span><span>GPU 30m 00s</span>",
        "<span>THB 1.00/h</span><span>THB 50.00/h</span>",
        "CPU core time: THB 1.00 per core-hour",
        "GPU time: THB 50.00 per GPU-hour",
        "rounded up once, to the next THB 0.01",
        ">THB 26.50<",
        ">THB 0.01<",
        "id=\"total\">THB 26.51<",
        "No payment has been made for this receipt yet.",
        &format!("href=\"/receipts/{receipt}.pdf\""),
    ] {
        assert!(page.contains(text), "the receipt lacks {text:?}");
    }
    assert!(
        page.find(">job-a<").unwrap() < page.find(">job-b<").unwrap(),
        "lines by the date the job ended"
    );
    assert!(!page.contains("issuer-hint"), "operator hints only for admins");

    alice.pay_now(receipt).await;
    let page = alice.get_text(&format!("/receipts/{receipt}")).await;
    let history = &page[page.find("id=\"payments\"").expect("payment history")..];
    for text in [
        "<code>pay_",
        ">dummy<",
        ">processing<",
        "data-label=\"Started\"",
        "data-label=\"Last change\"",
        ">THB 26.51<",
    ] {
        assert!(history.contains(text), "the payment history lacks {text:?}");
    }
}

#[actix_web::test]
async fn the_pdf_has_the_receipts_content_for_the_owner_and_admins_only() {
    let server = server_with_issuer(&ISSUER).await;
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    let checkout = alice.pay_now(receipt).await;
    let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();
    let resp = alice.simulate(&payment, "succeed").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "paid");
    let path = format!("/receipts/{receipt}.pdf");

    let resp = alice.get(&path).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("receipt-{receipt}.pdf")));
    let pdf = resp.bytes().await.unwrap();
    assert_well_formed_pdf(&pdf);
    for text in [
        "Zürich HPC Centre",
        "1 Science Road",
        "Pathum Wan, Bangkok 10330",
        "Tax ID: 0105551234567",
        "alice",
        &receipt.to_string(),
        "job-a",
        "CPU 1h 30m 00s",
        "GPU 30m 00s",
        "THB 50.00/h",
        "THB 26.50",
        "THB 26.51",
        "Total",
        "GPU time: THB 50.00 per GPU-hour",
        "dummy",
        "succeeded",
    ] {
        assert!(shows(&pdf, text), "the PDF lacks {text:?}");
    }
    let paid = server.store().receipt(receipt).unwrap().unwrap().paid_at.unwrap();
    assert!(
        shows(&pdf, &format!("Paid {}", payments_app::format::format_time(paid))),
        "the PDF says when it was paid"
    );
    let body = String::from_utf8_lossy(&pdf);
    assert!(
        body.contains("rounded up once, to the next THB 0.01"),
        "the rounding rule"
    );
    let (payment, _) = server.payment_of(receipt);
    assert!(
        body.contains(&payment[4..16]),
        "the payment id (wrapped in its column)"
    );
    assert!(!body.contains("Latin letters"), "nothing needed transliterating");

    let root = Browser::login(&server, "root").await;
    assert_eq!(
        root.get(&path).await.status(),
        StatusCode::OK,
        "admins see every receipt"
    );
    let bob = Browser::login(&server, "bob").await;
    assert_eq!(bob.get(&path).await.status(), StatusCode::NOT_FOUND, "not bob's");
    assert_eq!(
        bob.get(&format!("/receipts/{receipt}")).await.status(),
        StatusCode::NOT_FOUND,
        "the page answers the same"
    );
    assert_eq!(
        bob.get("/receipts/999999.pdf").await.status(),
        StatusCode::NOT_FOUND
    );
    let anonymous = Browser::new(&server);
    assert_eq!(
        anonymous.get(&path).await.status(),
        StatusCode::SEE_OTHER,
        "log in first"
    );
}

#[actix_web::test]
async fn names_outside_the_pdf_fonts_are_transliterated_and_the_pdf_says_so() {
    let server = server_with_issuer(&[
        ("ISSUER_NAME", "บริษัท ตัวอย่าง จำกัด"),
        ("ISSUER_ADDRESS", "Łódź (Poland) \\ 東京"),
    ])
    .await;
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    let page = alice.get_text(&format!("/receipts/{receipt}")).await;
    assert!(
        page.contains("บริษัท ตัวอย่าง จำกัด"),
        "the page shows the name as entered"
    );
    let pdf = alice
        .get(&format!("/receipts/{receipt}.pdf"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_well_formed_pdf(&pdf);
    let body = String::from_utf8_lossy(&pdf);
    assert!(body.contains("Latin letters"), "the PDF says it transliterated");
    assert!(shows(&pdf, "THB 26.51"));
    // Parentheses and backslashes are escaped or balanced by pdf-writer, so the text stays a string.
    let mut lossy = false;
    let address = payments_app::receipts::pdf::encode("Łódź (Poland) \\ 東京", &mut lossy);
    assert!(lossy && address.starts_with(b"L\xf3dz (Poland) \\ "));
}

#[test]
fn issuer_settings_are_checked_with_every_problem_named() {
    let env = |vars: &[(&str, &str)]| -> HashMap<String, String> {
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let too_many_lines = (1..=9)
        .map(|i| format!("line {i}"))
        .collect::<Vec<_>>()
        .join("\\n");
    let err = payments_web::config::Config::from_source(&env(&[
        ("ISSUER_ADDRESS", &too_many_lines),
        ("ISSUER_TAX_ID", "12<script>"),
        ("RATE_GPU_HOUR", "12.5"),
    ]))
    .unwrap_err()
    .to_string();
    for name in [
        "ISSUER_ADDRESS",
        "at most 8 lines",
        "ISSUER_TAX_ID",
        "ISSUER_NAME is required",
        "RATE_GPU_HOUR",
    ] {
        assert!(err.contains(name), "{name} missing from: {err}");
    }
    assert!(err.starts_with("4 problems"), "{err}");

    let err = payments_web::config::Config::from_source(&env(&[("ISSUER_NAME", &"x".repeat(121))]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ISSUER_NAME") && err.contains("at most 120 characters"),
        "{err}"
    );

    let ok = payments_web::config::Config::from_source(&env(&ISSUER)).unwrap();
    assert_eq!(ok.app.issuer.name.as_deref(), Some("Zürich HPC Centre"));
    assert_eq!(
        ok.app.issuer.address,
        ["1 Science Road", "Pathum Wan, Bangkok 10330"]
    );
    assert_eq!(ok.app.issuer.tax_id.as_deref(), Some("0105551234567"));
    let none = payments_web::config::Config::from_source(&env(&[])).unwrap();
    assert!(none.app.issuer.name.is_none() && none.app.issuer.address.is_empty());
}
