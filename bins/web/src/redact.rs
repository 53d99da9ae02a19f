//! Request targets as the access log writes them: the values of query parameters whose names
//! look secret (`password`, `token`, `x_api_key`, `accessToken`, ...) and the metrics token
//! wherever it appears (any parameter, its name, a path segment, percent-encoded or not) are
//! replaced by [`REDACTED`]; the rest of the line stays as sent, so the request is still traceable.

/// What a secret value is logged as.
pub const REDACTED: &str = "REDACTED";

/// Words that make a parameter name secret when the name holds one as a word of its own
/// (`x_api_key`, `apiKey`, `X-Auth`, `code`); matched case-insensitively.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "token",
    "secret",
    "key",
    "apikey",
    "auth",
    "authorization",
    "signature",
    "sig",
    "code",
    "session",
    "sid",
    "credential",
    "credentials",
    "otp",
    "jwt",
    "cookie",
    "private",
    "hmac",
];

/// Words long and plain enough to mark a name secret anywhere inside it (`mytoken`,
/// `xapikey`, `dbpassword`).
const SECRET_INSIDE: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "credential",
    "signature",
    "session",
    "authorization",
];

/// Whether a query parameter's (decoded) name looks like it carries a secret.
pub fn is_secret_name(name: &str) -> bool {
    let compact: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    if SECRET_INSIDE.iter().any(|w| compact.contains(w)) {
        return true;
    }
    words(name).iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
}

/// The lower-case words of a name: split at anything not a letter or digit and where a lower
/// case letter or digit is followed by an upper case one (`accessToken`: access, token).
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            out.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            out.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    out.extend((!word.is_empty()).then_some(word));
    out
}

/// `%XX` escapes (and `+` when `plus` is set, as in a query) decoded; invalid escapes are kept.
fn decode(s: &str, plus: bool) -> String {
    let spaced;
    let s = if plus {
        spaced = s.replace('+', " ");
        spaced.as_str()
    } else {
        s
    };
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether `raw` (an escaped piece of the target) holds `token`, as sent or once decoded.
fn holds(raw: &str, token: Option<&str>, plus: bool) -> bool {
    token.is_some_and(|t| raw.contains(t) || decode(raw, plus).contains(t))
}

/// The request target (`/path?query`) with secret query values and the metrics `token`
/// replaced by [`REDACTED`].
pub fn request_target(path: &str, query: Option<&str>, token: Option<&str>) -> String {
    let token = token.filter(|t| !t.is_empty());
    let mut out: String = path
        .split('/')
        .map(|segment| {
            if holds(segment, token, false) {
                REDACTED
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    if holds(&out, token, false) {
        // A token spanning segments (it holds a `/`).
        out = format!("/{REDACTED}");
    }
    let Some(query) = query else {
        return out;
    };
    out.push('?');
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => {
                let secret_value =
                    !value.is_empty() && (is_secret_name(&decode(name, true)) || holds(value, token, true));
                let name = if holds(name, token, true) { REDACTED } else { name };
                let value = if secret_value { REDACTED } else { value };
                format!("{name}={value}")
            }
            None if holds(pair, token, true) => REDACTED.to_string(),
            None => pair.to_string(),
        })
        .collect();
    out.push_str(&pairs.join("&"));
    if holds(&out, token, true) {
        // Only reachable through escapes that split the token across pairs.
        out = format!("{}?{REDACTED}", out.split('?').next().unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names_are_recognised_in_any_case_and_inside_names() {
        for name in [
            "password",
            "PASSWORD",
            "passwd",
            "pass",
            "pwd",
            "token",
            "Token",
            "secret",
            "client_secret",
            "key",
            "api_key",
            "x_api_key",
            "X-API-KEY",
            "apiKey",
            "xapikey",
            "access_token",
            "accessToken",
            "auth",
            "X-Auth",
            "signature",
            "sig",
            "code",
            "session",
            "session_id",
            "mytoken",
            "csrf_token",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "q", "actor", "user", "page", "from", "to", "payment", "status", "monkey", "signal", "author",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn secret_values_are_redacted_and_the_rest_kept() {
        assert_eq!(
            request_target(
                "/me",
                Some("password=S1&token=S2&page=2&x_api_key=S3&empty="),
                None
            ),
            "/me?password=REDACTED&token=REDACTED&page=2&x_api_key=REDACTED&empty="
        );
        assert_eq!(request_target("/me", None, None), "/me");
        assert_eq!(request_target("/me", Some(""), None), "/me?");
        assert_eq!(
            request_target("/me", Some("pass%77ord=S&a"), None),
            "/me?pass%77ord=REDACTED&a",
            "an escaped name is read decoded"
        );
    }

    #[test]
    fn the_metrics_token_is_redacted_wherever_it_appears() {
        let t = Some("m3tr1c5-Xq7Zr9Lw4Xc8Vb1Nm6Pk3");
        let cases = [
            (
                "/metrics",
                Some("token=m3tr1c5-Xq7Zr9Lw4Xc8Vb1Nm6Pk3"),
                "/metrics?token=REDACTED",
            ),
            (
                "/metrics",
                Some("t=m3tr1c5-Xq7Zr9Lw4Xc8Vb1Nm6Pk3"),
                "/metrics?t=REDACTED",
            ),
            (
                "/metrics",
                Some("t=%6D3tr1c5-Xq7Zr9Lw4Xc8Vb1Nm6Pk3"),
                "/metrics?t=REDACTED",
            ),
            (
                "/metrics",
                Some("m3tr1c5-Xq7Zr9Lw4Xc8Vb1Nm6Pk3"),
                "/metrics?REDACTED",
            ),
            (
                "/metrics",
                Some("m3tr1c5-Xq7Zr9Lw4Xc8Vb1Nm6Pk3=1"),
                "/metrics?REDACTED=1",
            ),
            ("/x/m3tr1c5-Xq7Zr9Lw4Xc8Vb1Nm6Pk3/y", None, "/x/REDACTED/y"),
            (
                "/x/%6D3tr1c5-Xq7Zr9Lw4Xc8Vb1Nm6Pk3",
                Some("a=1"),
                "/x/REDACTED?a=1",
            ),
        ];
        for (path, query, logged) in cases {
            assert_eq!(request_target(path, query, t), logged, "{path} {query:?}");
        }
    }

    #[test]
    fn bad_escapes_are_kept_as_sent() {
        assert_eq!(decode("a%zzb%4", false), "a%zzb%4");
        assert_eq!(decode("%41+%2B", true), "A +");
        assert_eq!(decode("%4", false), "%4");
        assert_eq!(decode("%41", false), "A");
    }
}
