//! Who is asking: the TCP peer, or, when the peer is a reverse proxy the operator trusts
//! (`TRUSTED_PROXIES`), the client that proxy names in `X-Forwarded-For`.
//!
//! The header is read from the right: each trusted proxy appends the address it received the
//! request from, so the rightmost address that is not a trusted proxy is the client as far as
//! trusted hops can tell. Whatever a client writes into the header itself sits to the left of
//! that and is never believed; a peer that is not a trusted proxy is taken as the client, header
//! or not.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::HttpRequest;

/// Parses `TRUSTED_PROXIES`: IP addresses separated by commas (blank: none). An entry that is
/// not an address is named in the error.
pub fn parse_trusted(list: &str) -> Result<Vec<IpAddr>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpAddr>()
                .map(canonical)
                .map_err(|_| format!("{:?} is not an IP address", payments_app::logsafe::bounded(s)))
        })
        .collect()
}

/// IPv4-mapped IPv6 addresses compare as their IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The client of `peer` given the `X-Forwarded-For` values it sent, believing only `trusted`.
pub fn resolve(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpAddr]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>().map(canonical) {
            Ok(addr) if trusted.contains(&addr) => continue,
            Ok(addr) => return addr,
            // An unreadable hop: nothing to its left can be believed either.
            Err(_) => return peer,
        }
    }
    peer
}

/// The client address of `req` (see the module docs).
pub fn client_addr(req: &HttpRequest, trusted: &[IpAddr]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    resolve(peer, &forwarded, trusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_peer_names_the_client() {
        let trusted = parse_trusted(" 10.0.0.5 , 10.0.0.6,").unwrap();
        assert_eq!(trusted, vec![ip("10.0.0.5"), ip("10.0.0.6")]);
        // An untrusted peer is the client, whatever it claims.
        assert_eq!(
            resolve(ip("203.0.113.9"), &["198.51.100.1"], &trusted),
            ip("203.0.113.9")
        );
        // Behind one trusted proxy: the address it appended.
        assert_eq!(
            resolve(ip("10.0.0.5"), &["198.51.100.1"], &trusted),
            ip("198.51.100.1")
        );
        // A client's own forged entries stay to the left and are not believed.
        assert_eq!(
            resolve(ip("10.0.0.5"), &["1.2.3.4, 198.51.100.1"], &trusted),
            ip("198.51.100.1")
        );
        // Two trusted hops, in one header or two.
        assert_eq!(
            resolve(ip("10.0.0.5"), &["198.51.100.1, 10.0.0.6"], &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(
            resolve(ip("10.0.0.5"), &["198.51.100.1", "10.0.0.6"], &trusted),
            ip("198.51.100.1")
        );
        // No header, or only trusted hops, or garbage: the peer.
        assert_eq!(resolve(ip("10.0.0.5"), &[], &trusted), ip("10.0.0.5"));
        assert_eq!(resolve(ip("10.0.0.5"), &["10.0.0.6"], &trusted), ip("10.0.0.5"));
        assert_eq!(
            resolve(ip("10.0.0.5"), &["1.2.3.4, junk"], &trusted),
            ip("10.0.0.5")
        );
        // IPv4-mapped IPv6 peers match their IPv4 entry.
        assert_eq!(
            resolve(ip("::ffff:10.0.0.5"), &["198.51.100.1"], &trusted),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_bad_entry_is_named() {
        let err = parse_trusted("10.0.0.5, proxy.local").unwrap_err();
        assert!(err.contains("proxy.local"), "{err}");
        assert!(parse_trusted("  ").unwrap().is_empty());
    }
}
