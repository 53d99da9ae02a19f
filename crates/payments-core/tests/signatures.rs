//! The published signature vectors (`crates/payments-core/vectors`), plus tolerance and rotation.

use base64::Engine as _;
use payments_core::signature::{
    Encoding, SignatureError, StandardWebhooks, StripeStyleScheme, TimestampedHmac,
};
use serde_json::Value;

fn vectors(name: &str) -> Value {
    payments_core::vectors::load(name.trim_end_matches(".json"))
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} is a string"))
}

#[test]
fn stripe_vectors() {
    let v = vectors("stripe.json");
    let cases = v["cases"].as_array().expect("cases");
    assert!(cases.len() >= 5);
    for case in cases {
        let scheme = StripeStyleScheme::new("Stripe-Signature", &[s(case, "secret").to_string()], 300);
        let t = case["timestamp"].as_i64().expect("timestamp");
        let result = scheme.verify(s(case, "header"), s(case, "payload").as_bytes(), t);
        assert_eq!(
            result.is_ok(),
            case["valid"].as_bool().expect("valid"),
            "case {}: {result:?}",
            s(case, "name")
        );
        if case["valid"] == true {
            // Our signer produces a header that the verifier accepts and whose v1 is in the vector.
            let ours = scheme
                .header_value(t, s(case, "payload").as_bytes())
                .expect("sign");
            let v1 = ours.split_once(",v1=").expect("v1").1;
            assert!(s(case, "header").contains(v1), "case {}", s(case, "name"));
        }
    }
}

#[test]
fn standard_webhooks_vectors() {
    let v = vectors("standard-webhooks.json");
    for case in v["cases"].as_array().expect("cases") {
        let sw = StandardWebhooks::new(&[s(case, "secret").to_string()]).expect("secret");
        let t = case["timestamp"].as_i64().expect("timestamp");
        let result = sw.verify(
            s(case, "id"),
            &t.to_string(),
            s(case, "signature"),
            s(case, "payload").as_bytes(),
            t,
        );
        assert_eq!(
            result.is_ok(),
            case["valid"].as_bool().expect("valid"),
            "case {}: {result:?}",
            s(case, "name")
        );
        if case["valid"] == true && !s(case, "signature").contains(' ') {
            assert_eq!(
                sw.sign(s(case, "id"), t, s(case, "payload").as_bytes())
                    .expect("sign"),
                s(case, "signature")
            );
        }
    }
}

#[test]
fn omise_style_vector_with_base64_key() {
    let v = vectors("omise.json");
    for case in v["cases"].as_array().expect("cases") {
        let key = base64::engine::general_purpose::STANDARD
            .decode(s(case, "secret_base64"))
            .expect("base64 secret");
        let hmac = TimestampedHmac {
            keys: vec![key],
            encoding: Encoding::Hex,
            tolerance: 300,
        };
        let t = case["timestamp"].as_i64().expect("timestamp");
        let body = s(case, "payload").as_bytes();
        assert_eq!(hmac.sign(b"", t, body).expect("sign"), s(case, "signature_hex"));
        assert!(hmac.verify(b"", t, body, [s(case, "signature_hex")], t).is_ok());
    }
}

fn scheme(secrets: &[&str]) -> StripeStyleScheme {
    let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    StripeStyleScheme::new("Stripe-Signature", &secrets, 300)
}

#[test]
fn tolerance_is_enforced_in_both_directions() {
    let sc = scheme(&["whsec_a"]);
    let body = b"{\"id\":\"evt_1\"}";
    let header = sc.header_value(1_000_000, body).expect("sign");
    assert!(sc.verify(&header, body, 1_000_000 + 300).is_ok(), "at the edge");
    assert!(
        sc.verify(&header, body, 1_000_000 - 300).is_ok(),
        "at the edge, early clock"
    );
    assert!(matches!(
        sc.verify(&header, body, 1_000_000 + 301),
        Err(SignatureError::OutsideTolerance {
            age: 301,
            tolerance: 300,
            ..
        })
    ));
    assert!(matches!(
        sc.verify(&header, body, 1_000_000 - 301),
        Err(SignatureError::OutsideTolerance { age: -301, .. })
    ));
}

#[test]
fn rotation_accepts_any_configured_secret_and_any_v1() {
    let body = b"{}";
    let old = scheme(&["whsec_old"]).header_value(10, body).expect("sign");
    let new = scheme(&["whsec_new"]).header_value(10, body).expect("sign");
    let both = scheme(&["whsec_new", "whsec_old"]);
    assert!(both.verify(&old, body, 10).is_ok());
    assert!(both.verify(&new, body, 10).is_ok());
    assert_eq!(
        scheme(&["whsec_other"]).verify(&old, body, 10),
        Err(SignatureError::Mismatch)
    );
    // Two v1 entries in one header (Stripe during rotation): the second matches.
    let sig_new = new.split_once(",v1=").expect("v1").1;
    let header = format!("t=10,v1={},v1={sig_new}", "0".repeat(64));
    assert!(scheme(&["whsec_new"]).verify(&header, body, 10).is_ok());
}

#[test]
fn malformed_headers_are_named() {
    let sc = scheme(&["k"]);
    for bad in ["", "garbage", "v1=00", "t=abc,v1=00", "t=10"] {
        assert!(
            matches!(
                sc.verify(bad, b"{}", 10),
                Err(SignatureError::MalformedHeader {
                    header: "Stripe-Signature",
                    ..
                })
            ),
            "{bad:?}: {:?}",
            sc.verify(bad, b"{}", 10)
        );
    }
    assert_eq!(sc.verify("t=10,v1=zz", b"{}", 10), Err(SignatureError::Mismatch));
    assert_eq!(
        scheme(&[]).verify("t=10,v1=00", b"{}", 10),
        Err(SignatureError::NoSecret)
    );
}
