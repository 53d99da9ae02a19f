//! Configuration from the environment: defaults, clear errors, no secrets in Debug output.

use std::cell::RefCell;
use std::collections::HashMap;

use payments_core::ProviderError;
use payments_omise::{OmiseConfig, OmiseProvider, DEFAULT_API_BASE, DEFAULT_SOURCE_TYPE, ENV_VARS};

fn from(vars: &[(&str, &str)]) -> Result<OmiseConfig, ProviderError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    OmiseConfig::from_lookup(&|name| map.get(name).cloned())
}

fn config_error(vars: &[(&str, &str)]) -> String {
    match from(vars) {
        Err(ProviderError::Config(m)) => m,
        other => panic!("{vars:?} gave {other:?}, not a configuration error"),
    }
}

const KEY: &str = "skey_test_5rq7d1whd0u3ojqhfd2";

#[test]
fn defaults_apply_and_every_variable_read_is_documented() {
    let seen = RefCell::new(Vec::new());
    let config = OmiseConfig::from_lookup(&|name| {
        seen.borrow_mut().push(name.to_string());
        (name == "OMISE_SECRET_KEY").then(|| KEY.to_string())
    })
    .expect("only the secret key is required");
    assert_eq!(config.api_base, DEFAULT_API_BASE);
    assert_eq!(config.source_type, DEFAULT_SOURCE_TYPE);
    assert!(config.webhook_secrets.is_empty());
    assert_eq!(config.webhook_tolerance_secs, 300);
    let documented: Vec<&str> = ENV_VARS.iter().map(|(n, _)| *n).collect();
    for name in seen.borrow().iter() {
        assert!(
            documented.contains(&name.as_str()),
            "{name} is read but not in ENV_VARS"
        );
    }
    for name in &documented {
        assert!(
            seen.borrow().iter().any(|s| s == name),
            "{name} is documented but never read"
        );
    }
    let provider = OmiseProvider::new(config).expect("valid");
    assert!(!provider.verifies_signatures());
}

#[test]
fn all_variables_are_read() {
    let config = from(&[
        ("OMISE_SECRET_KEY", KEY),
        ("OMISE_API_BASE", "http://127.0.0.1:9/"),
        ("OMISE_SOURCE_TYPE", " ShopeePay "),
        ("OMISE_WEBHOOK_SECRET", "bmV3LXNlY3JldA==, b2xkLXNlY3JldA=="),
        ("OMISE_WEBHOOK_TOLERANCE_SECS", "120"),
    ])
    .expect("valid");
    assert_eq!(config.api_base, "http://127.0.0.1:9");
    assert_eq!(config.source_type, "shopeepay");
    assert_eq!(
        config.webhook_secrets,
        vec!["bmV3LXNlY3JldA==", "b2xkLXNlY3JldA=="]
    );
    assert_eq!(
        config.webhook_keys().expect("decodes"),
        vec![b"new-secret".to_vec(), b"old-secret".to_vec()]
    );
    assert_eq!(config.webhook_tolerance_secs, 120);
    assert!(OmiseProvider::new(config).expect("valid").verifies_signatures());
}

#[test]
fn errors_name_the_variable_and_what_is_expected() {
    let m = config_error(&[]);
    assert!(m.contains("OMISE_SECRET_KEY") && m.contains("required"), "{m}");
    let m = config_error(&[("OMISE_SECRET_KEY", "  ")]);
    assert!(m.contains("OMISE_SECRET_KEY"), "{m}");
    let m = config_error(&[("OMISE_SECRET_KEY", "pkey_test_5rq7d1whd0u3ojqhfd2")]);
    assert!(m.contains("OMISE_SECRET_KEY") && m.contains("skey_"), "{m}");
    let m = config_error(&[("OMISE_SECRET_KEY", KEY), ("OMISE_API_BASE", "api.omise.co")]);
    assert!(m.contains("OMISE_API_BASE"), "{m}");
    let m = config_error(&[
        ("OMISE_SECRET_KEY", KEY),
        ("OMISE_API_BASE", "http://api.omise.co"),
    ]);
    assert!(m.contains("OMISE_API_BASE") && m.contains("https"), "{m}");
    let m = config_error(&[("OMISE_SECRET_KEY", KEY), ("OMISE_SOURCE_TYPE", "promptpay")]);
    assert!(m.contains("OMISE_SOURCE_TYPE") && m.contains("offline"), "{m}");
    let m = config_error(&[("OMISE_SECRET_KEY", KEY), ("OMISE_SOURCE_TYPE", "truemoney/../x")]);
    assert!(m.contains("OMISE_SOURCE_TYPE"), "{m}");
    let m = config_error(&[("OMISE_SECRET_KEY", KEY), ("OMISE_WEBHOOK_SECRET", "not base64!")]);
    assert!(m.contains("OMISE_WEBHOOK_SECRET") && m.contains("base64"), "{m}");
    let m = config_error(&[("OMISE_SECRET_KEY", KEY), ("OMISE_WEBHOOK_TOLERANCE_SECS", "5m")]);
    assert!(m.contains("OMISE_WEBHOOK_TOLERANCE_SECS"), "{m}");
    let m = config_error(&[("OMISE_SECRET_KEY", KEY), ("OMISE_WEBHOOK_TOLERANCE_SECS", "0")]);
    assert!(m.contains("OMISE_WEBHOOK_TOLERANCE_SECS"), "{m}");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let config = from(&[
        ("OMISE_SECRET_KEY", KEY),
        ("OMISE_WEBHOOK_SECRET", "c3VwZXItc2VjcmV0LXdlYmhvb2s="),
    ])
    .expect("valid");
    let provider = OmiseProvider::new(config.clone()).expect("valid");
    for text in [
        format!("{config:?}"),
        format!("{provider:?}"),
        format!("{provider:#?}"),
    ] {
        assert!(!text.contains(KEY), "secret key leaked: {text}");
        assert!(
            !text.contains("rq7d1whd0u3"),
            "part of the secret key leaked: {text}"
        );
        assert!(
            !text.contains("c3VwZXItc2VjcmV0LXdlYmhvb2s="),
            "webhook secret leaked: {text}"
        );
        assert!(
            !text.contains("super-secret-webhook"),
            "decoded webhook secret leaked: {text}"
        );
        assert!(text.contains("redacted"), "{text}");
    }
}

/// The key's and the source type's bounds, at each edge (what cargo mutants found unchecked).
#[test]
fn the_secret_key_and_source_type_are_held_to_their_form_at_each_edge() {
    for key in ["skey_12345", "skey_test_5rq7d1whd0u3ojqhfd2"] {
        assert!(from(&[("OMISE_SECRET_KEY", key)]).is_ok(), "{key}");
    }
    for key in [
        "skey_1234",
        "pkey_test_5rq7d1whd0u3",
        "skey_ab cd1234",
        "skey_abc:defgh",
        "skey_\tabcdefgh",
    ] {
        assert!(
            config_error(&[("OMISE_SECRET_KEY", key)]).contains("OMISE_SECRET_KEY"),
            "{key:?}"
        );
    }
    let longest = "a".repeat(64);
    let source = |s: &str| from(&[("OMISE_SECRET_KEY", KEY), ("OMISE_SOURCE_TYPE", s)]);
    assert!(source(&longest).is_ok(), "64 characters");
    assert!(source("truemoney_jumpapp").is_ok());
    for bad in ["a".repeat(65), "mobile-banking".into(), "promptpay!".into()] {
        match source(&bad) {
            Err(ProviderError::Config(m)) => assert!(m.contains("OMISE_SOURCE_TYPE"), "{bad:?}: {m}"),
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
}
