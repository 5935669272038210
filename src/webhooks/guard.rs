//! The SSRF guard: a webhook URL may only reach the public internet. Its host is resolved
//! at registration and again before every delivery (DNS can change in between), and every
//! address it resolves to must be public: not loopback, private, shared (CGNAT),
//! link-local, unique-local, multicast, reserved, documentation or benchmarking space,
//! nor an IPv6 address that embeds one of those. The sender then connects only to the
//! addresses checked here, so a rebinding DNS answer cannot slip a private one in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

use crate::error::FieldError;

/// The longest webhook URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// How long resolving a webhook host may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A webhook URL that passed the static checks: absolute, `https` (or `http` where the
/// configuration allows it), with a host and no user name or password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    /// Parses and checks `raw`; errors name the `url` field.
    pub fn parse(raw: &str, allow_http: bool) -> Result<Self, FieldError> {
        let invalid = |code: &str, message: &str| FieldError::new("url", code, message);
        let raw = raw.trim();
        if raw.len() > MAX_URL_LEN {
            return Err(invalid(
                "too_long",
                &format!("At most {MAX_URL_LEN} characters."),
            ));
        }
        let url = Url::parse(raw).map_err(|_| invalid("invalid_url", "Not an absolute URL."))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_http => {}
            "http" => return Err(invalid("https_required", "Webhook URLs must use https.")),
            _ => return Err(invalid("invalid_scheme", "Webhook URLs must use https.")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "userinfo_not_allowed",
                "A webhook URL cannot carry a user name or password; authenticate deliveries \
                 with their signature.",
            ));
        }
        if url.host().is_none() {
            return Err(invalid("invalid_url", "The URL has no host."));
        }
        Ok(Self(url))
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host name, when the URL names one (not an IP literal).
    pub fn domain(&self) -> Option<&str> {
        self.0.domain()
    }
}

/// Why a webhook URL may not be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the host could not be resolved")]
    Unresolvable,
    #[error("the host resolves to a non-public address ({0})")]
    NotPublic(IpAddr),
}

impl Refusal {
    /// The 422 field error for a registration.
    pub fn field_error(&self) -> FieldError {
        match self {
            Self::Unresolvable => FieldError::new(
                "url",
                "unresolvable_host",
                "The host name does not resolve.",
            ),
            Self::NotPublic(_) => FieldError::new(
                "url",
                "address_not_allowed",
                "The URL resolves to a loopback, private, link-local or otherwise internal \
                 address; webhooks are only delivered to the public internet.",
            ),
        }
    }
}

/// Resolves the URL's host and checks every address: the addresses to connect to, or why
/// not. With `allow_private` (development and tests) nothing is refused.
pub async fn resolve_checked(
    url: &WebhookUrl,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, Refusal> {
    let port = url.0.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.0.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(domain)) => {
            let lookup = tokio::net::lookup_host((domain, port));
            match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                Ok(Ok(found)) => found.collect(),
                Ok(Err(_)) | Err(_) => return Err(Refusal::Unresolvable),
            }
        }
        None => return Err(Refusal::Unresolvable),
    };
    if addrs.is_empty() {
        return Err(Refusal::Unresolvable);
    }
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|addr| !is_public(addr.ip())) {
            return Err(Refusal::NotPublic(bad.ip()));
        }
    }
    Ok(addrs)
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv4 ranges that are not public (RFC 6890 special-purpose registry and friends).
const NON_PUBLIC_V4: &[(u32, u8)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0A00_0000, 8),  // 10.0.0.0/8 private
    (0x6440_0000, 10), // 100.64.0.0/10 shared address space (CGNAT)
    (0x7F00_0000, 8),  // 127.0.0.0/8 loopback
    (0xA9FE_0000, 16), // 169.254.0.0/16 link-local (cloud metadata lives here)
    (0xAC10_0000, 12), // 172.16.0.0/12 private
    (0xC000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xC000_0200, 24), // 192.0.2.0/24 TEST-NET-1
    (0xC058_6300, 24), // 192.88.99.0/24 6to4 relay anycast
    (0xC0A8_0000, 16), // 192.168.0.0/16 private
    (0xC612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xC633_6400, 24), // 198.51.100.0/24 TEST-NET-2
    (0xCB00_7100, 24), // 203.0.113.0/24 TEST-NET-3
    (0xE000_0000, 4),  // 224.0.0.0/4 multicast
    (0xF000_0000, 4),  // 240.0.0.0/4 reserved, and 255.255.255.255 broadcast
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    !NON_PUBLIC_V4
        .iter()
        .any(|&(network, len)| bits >> (32 - len) == network >> (32 - len))
}

/// IPv6 ranges that are not public, beyond those that embed an IPv4 address.
const NON_PUBLIC_V6: &[(u128, u8)] = &[
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64), // 100::/64 discard-only
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48), // 64:ff9b:1::/48 local-use NAT64
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23), // 2001::/23 IETF protocol assignments (Teredo…)
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // 2001:db8::/32 documentation
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20), // 3fff::/20 documentation
    (0x5f00_0000_0000_0000_0000_0000_0000_0000, 16), // 5f00::/16 segment routing
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),  // fc00::/7 unique-local
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10), // fe80::/10 link-local
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10), // fec0::/10 site-local (deprecated)
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8),  // ff00::/8 multicast
];

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    if ip.is_unspecified() || ip.is_loopback() {
        return false;
    }
    // IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96) addresses reach the IPv4
    // address inside them; so does the NAT64 well-known prefix 64:ff9b::/96.
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if bits >> 32 == 0xffff || bits >> 32 == 0 || bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return is_public_v4(low32);
    }
    // 6to4 (2002::/16) carries an IPv4 address in bits 16..48.
    if bits >> 112 == 0x2002 {
        return is_public_v4(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    !NON_PUBLIC_V6
        .iter()
        .any(|&(network, len)| bits >> (128 - len) == network >> (128 - len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(raw: &str) -> bool {
        is_public(raw.parse().unwrap())
    }

    #[test]
    fn internal_ipv4_addresses_are_not_public() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!public(ip), "{ip} must not be public");
        }
    }

    #[test]
    fn ordinary_ipv4_addresses_are_public_even_next_to_internal_ranges() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn internal_ipv6_addresses_and_embedded_internal_ipv4_are_not_public() {
        for ip in [
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.1.2.3",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "3fff::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!public(ip), "{ip} must not be public");
        }
    }

    #[test]
    fn ordinary_ipv6_addresses_and_embedded_public_ipv4_are_public() {
        for ip in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4009:81f::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn urls_need_https_a_host_and_no_userinfo() {
        assert!(WebhookUrl::parse("https://example.org/hooks", false).is_ok());
        assert_eq!(
            WebhookUrl::parse("http://example.org/hooks", false)
                .unwrap_err()
                .code,
            "https_required"
        );
        assert!(WebhookUrl::parse("http://example.org/hooks", true).is_ok());
        assert_eq!(
            WebhookUrl::parse("ftp://example.org/", true)
                .unwrap_err()
                .code,
            "invalid_scheme"
        );
        assert_eq!(
            WebhookUrl::parse("https://user:pw@example.org/", false)
                .unwrap_err()
                .code,
            "userinfo_not_allowed"
        );
        assert_eq!(
            WebhookUrl::parse("https://user@example.org/", false)
                .unwrap_err()
                .code,
            "userinfo_not_allowed"
        );
        assert_eq!(
            WebhookUrl::parse("example.org/hooks", false)
                .unwrap_err()
                .code,
            "invalid_url"
        );
        let long = format!("https://example.org/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(
            WebhookUrl::parse(&long, false).unwrap_err().code,
            "too_long"
        );
    }

    #[actix_web::test]
    async fn literal_internal_addresses_are_refused_unless_allowed() {
        for raw in [
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://0x7f.1/",
            "https://[::ffff:a9fe:a9fe]/",
        ] {
            let url = WebhookUrl::parse(raw, false).unwrap();
            assert!(
                matches!(
                    resolve_checked(&url, false).await,
                    Err(Refusal::NotPublic(_))
                ),
                "{raw}"
            );
            assert!(resolve_checked(&url, true).await.is_ok(), "{raw}");
        }
        let url = WebhookUrl::parse("https://93.184.215.14:8443/x", false).unwrap();
        assert_eq!(
            resolve_checked(&url, false).await.unwrap(),
            vec!["93.184.215.14:8443".parse().unwrap()]
        );
    }
}
