//! What browsers and providers are told about the address the server listens on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The base URL a browser on this machine uses for a listener bound to `bound` (an unspecified
/// address such as `0.0.0.0` becomes loopback; the port is the one really bound).
pub fn site_for(bound: SocketAddr) -> String {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, bound.port()))
}

/// Whether `site` (an absolute http(s) URL) names the listener bound to `bound` itself: same
/// port, and an address (or `localhost`) the listener answers on. A public host name is never
/// proven to be this listener: the operator's proxy or DNS decides that.
pub fn site_is_listener(site: &str, bound: SocketAddr) -> bool {
    let Ok(url) = url::Url::parse(site) else {
        return false;
    };
    if url.port_or_known_default() != Some(bound.port()) {
        return false;
    }
    let answers = |ip: IpAddr| bound.ip() == ip || (bound.ip().is_unspecified() && ip.is_loopback());
    match url.host() {
        Some(url::Host::Ipv4(ip)) => answers(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => answers(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") && (bound.ip().is_loopback() || bound.ip().is_unspecified())
        }
        None => false,
    }
}

/// The start-up lines that say where the server listens and where browsers and providers are
/// sent, and which one wins when they differ.
pub fn announce(bound: SocketAddr, site: &str, site_explicit: bool) -> Vec<String> {
    let mut lines = vec![format!("Listening on {bound}")];
    if !site_explicit {
        lines.push(format!(
            "SITE_BASE_URL is not set: browsers and providers are sent to {site} (this listener)"
        ));
    } else if !site_is_listener(site, bound) {
        lines.push(format!(
            "BIND_ADDR ({bound}) and SITE_BASE_URL ({site}) differ: browsers and providers are sent \
             to SITE_BASE_URL, so it must reach this listener (for example through a reverse proxy)"
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn unspecified_addresses_become_loopback_with_the_real_port() {
        assert_eq!(site_for(addr("0.0.0.0:9000")), "http://127.0.0.1:9000");
        assert_eq!(site_for(addr("[::]:9000")), "http://[::1]:9000");
        assert_eq!(site_for(addr("192.0.2.7:80")), "http://192.0.2.7:80");
    }

    #[test]
    fn a_site_is_the_listener_only_with_its_port_and_address() {
        assert!(site_is_listener("http://127.0.0.1:8000", addr("127.0.0.1:8000")));
        assert!(site_is_listener("http://localhost:8000", addr("0.0.0.0:8000")));
        assert!(site_is_listener("http://[::1]:8000", addr("[::]:8000")));
        assert!(!site_is_listener("http://127.0.0.1:8000", addr("127.0.0.1:9000")));
        assert!(!site_is_listener("http://127.0.0.1", addr("127.0.0.1:8000")));
        assert!(!site_is_listener(
            "https://portal.example.org",
            addr("127.0.0.1:443")
        ));
        assert!(!site_is_listener("http://10.0.0.1:8000", addr("127.0.0.1:8000")));
    }

    #[test]
    fn the_announcement_says_which_address_wins() {
        let bound = addr("0.0.0.0:8123");
        let lines = announce(bound, "http://127.0.0.1:8123", false);
        assert_eq!(lines[0], "Listening on 0.0.0.0:8123");
        assert!(lines[1].contains("SITE_BASE_URL is not set") && lines[1].contains("http://127.0.0.1:8123"));
        assert_eq!(announce(bound, "http://localhost:8123", true).len(), 1);
        let differ = announce(bound, "https://pay.example.org", true);
        assert!(differ[1].contains("sent to SITE_BASE_URL"), "{differ:?}");
    }
}
