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
        // Parsing percent-encodes what a URL cannot carry as it is (up to 12 bytes for a
        // character): the limit holds for the URL as stored and delivered to, too.
        if url.as_str().len() > MAX_URL_LEN {
            return Err(invalid(
                "too_long",
                &format!("At most {MAX_URL_LEN} characters once percent-encoded."),
            ));
        }
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

/// Property tests of the URL check and the address guard (issue 10, "Bad input, at
/// scale"). Bounded here; run them longer with `PROPTEST_CASES=100000 cargo test --lib proptest`.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// Internal IPv4 networks, written out again here rather than taken from the table.
    const INTERNAL_V4: [([u8; 4], u8); 15] = [
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([100, 64, 0, 0], 10),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 24),
        ([192, 0, 2, 0], 24),
        ([192, 88, 99, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([224, 0, 0, 0], 4),
        ([240, 0, 0, 0], 4),
    ];

    /// An address inside one of the internal networks.
    fn internal_v4() -> impl Strategy<Value = Ipv4Addr> {
        (prop::sample::select(INTERNAL_V4.to_vec()), any::<u32>()).prop_map(|((net, len), host)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            Ipv4Addr::from((u32::from(Ipv4Addr::from(net)) & mask) | (host & !mask))
        })
    }

    fn any_v4() -> impl Strategy<Value = Ipv4Addr> {
        prop_oneof![internal_v4(), any::<u32>().prop_map(Ipv4Addr::from)]
    }

    /// IPv6 addresses: internal ones, ones that embed an IPv4 address, and any.
    fn any_v6() -> impl Strategy<Value = Ipv6Addr> {
        prop_oneof![
            any::<u128>().prop_map(Ipv6Addr::from),
            any_v4().prop_map(|v4| v4.to_ipv6_mapped()),
            any_v4().prop_map(|v4| Ipv6Addr::from(u128::from(u32::from(v4)))),
            any_v4().prop_map(|v4| Ipv6Addr::from(
                (0x0064_ff9b_u128 << 96) | u128::from(u32::from(v4))
            )),
            (any_v4(), any::<u64>()).prop_map(|(v4, low)| Ipv6Addr::from(
                (0x2002_u128 << 112) | (u128::from(u32::from(v4)) << 80) | u128::from(low)
            )),
            (
                prop::sample::select(vec![
                    0xfc00_u16, 0xfd00, 0xfe80, 0xfebf, 0xfec0, 0xff02, 0x2001, 0x0100
                ]),
                any::<u128>()
            )
                .prop_map(|(top, rest)| Ipv6Addr::from((u128::from(top) << 112) | (rest >> 16))),
            Just(Ipv6Addr::LOCALHOST),
            Just(Ipv6Addr::UNSPECIFIED),
        ]
    }

    /// One number of a WHATWG IPv4 host: decimal, octal (`0…`) or hex (`0x…`).
    fn number(value: u32, radix: u8) -> String {
        match radix {
            0 => value.to_string(),
            1 => format!("0{value:o}"),
            2 => format!("0x{value:x}"),
            _ => format!("0X{value:X}"),
        }
    }

    /// An IPv4 address written the many ways a URL host may write it: dotted quad, one
    /// number, `a.b.c` and `a.b` short forms, in decimal, octal or hex, with a trailing dot,
    /// percent-encoded or in full-width digits.
    fn v4_host() -> impl Strategy<Value = (Ipv4Addr, String)> {
        (
            any_v4(),
            0_u8..4,
            proptest::collection::vec(0_u8..4, 4),
            any::<bool>(),
            0_u8..4,
        )
            .prop_map(|(ip, parts, radixes, trailing_dot, disguise)| {
                let [a, b, c, d] = ip.octets().map(u32::from);
                let bits = u32::from(ip);
                let numbers = match parts {
                    0 => vec![bits],
                    1 => vec![a, bits & 0x00ff_ffff],
                    2 => vec![a, b, (c << 8) | d],
                    _ => vec![a, b, c, d],
                };
                let mut host = numbers
                    .iter()
                    .zip(&radixes)
                    .map(|(n, radix)| number(*n, *radix))
                    .collect::<Vec<_>>()
                    .join(".");
                if trailing_dot {
                    host.push('.');
                }
                let host = match disguise {
                    1 => host.bytes().map(|b| format!("%{b:02X}")).collect(),
                    2 => host
                        .chars()
                        .map(|c| match c {
                            '0'..='9' => char::from_u32(u32::from(c) - 0x30 + 0xFF10).unwrap_or(c),
                            '.' => '\u{3002}',
                            other => other,
                        })
                        .collect(),
                    _ => host,
                };
                (ip, host)
            })
    }

    fn v6_host() -> impl Strategy<Value = (Ipv6Addr, String)> {
        (any_v6(), 0_u8..3).prop_map(|(ip, form)| {
            let host = match form {
                0 => format!("[{ip}]"),
                1 => {
                    let s = ip.segments();
                    format!("[{}]", s.map(|seg| format!("{seg:04X}")).join(":"))
                }
                _ => {
                    let s = ip.segments();
                    let [a, b, c, d] =
                        Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])).octets();
                    format!(
                        "[{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{a}.{b}.{c}.{d}]",
                        s[0], s[1], s[2], s[3], s[4], s[5]
                    )
                }
            };
            (ip, host)
        })
    }

    /// A host: an IP literal (and the address it means) or a name.
    fn host() -> impl Strategy<Value = (Option<IpAddr>, String)> {
        prop_oneof![
            v4_host().prop_map(|(ip, host)| (Some(IpAddr::V4(ip)), host)),
            v6_host().prop_map(|(ip, host)| (Some(IpAddr::V6(ip)), host)),
            "[a-z0-9-]{1,12}(\\.[a-z0-9-]{1,12}){0,3}".prop_map(|host| (None, host)),
            any::<String>().prop_map(|host| (None, host)),
        ]
    }

    fn url_text() -> impl Strategy<Value = (Option<IpAddr>, String)> {
        (
            prop::sample::select(vec![
                "https",
                "http",
                "HTTPS",
                "ftp",
                "file",
                "javascript",
                "",
            ]),
            prop::sample::select(vec!["://", ":/", ":", ":///"]),
            prop::sample::select(vec![
                "", "user@", "user:pw@", ":pw@", "@", ":@", "a%40b@", "u@v@",
            ]),
            host(),
            prop::sample::select(vec![
                "", ":443", ":0", ":8443", ":65535", ":65536", ":", ":0x1",
            ]),
            prop_oneof![
                "(/[a-zA-Z0-9%@:?#._-]{0,20}){0,3}",
                // (After the host, so that it stays the host written.)
                any::<String>().prop_map(|path| format!("/{path}")),
                "/[a-z\u{e9}\u{20ac}\u{1f600} ]{400,500}",
            ],
        )
            .prop_map(|(scheme, sep, userinfo, (ip, host), port, path)| {
                (ip, format!("{scheme}{sep}{userinfo}{host}{port}{path}"))
            })
    }

    fn block_on<F: std::future::Future>(future: F) -> Option<F::Output> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()
            .map(|runtime| runtime.block_on(future))
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever is registered, the check answers; what it accepts is `https` (or
        /// `http` where allowed), has a host, carries no user name or password, and is no
        /// longer than the limit. An IP literal, however written, is that address, and
        /// the guard lets it through exactly when the address is public (or internal ones
        /// are allowed).
        #[test]
        fn proptest_accepted_urls_are_https_without_credentials_or_internal_literals(
            (ip, raw) in url_text(),
            allow_http in any::<bool>(),
        ) {
            let Ok(url) = WebhookUrl::parse(&raw, allow_http) else {
                return Ok(());
            };
            let parsed = url.as_url();
            prop_assert!(parsed.scheme() == "https" || (allow_http && parsed.scheme() == "http"), "{}", raw);
            prop_assert!(parsed.username().is_empty() && parsed.password().is_none(), "{}", raw);
            prop_assert!(!url.as_str().contains('@') || parsed.host_str().is_some_and(|h| !h.contains('@')));
            prop_assert!(url.as_str().len() <= MAX_URL_LEN, "{} bytes", url.as_str().len());
            let literal = match parsed.host() {
                Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
                Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
                Some(Host::Domain(_)) => None,
                None => {
                    prop_assert!(false, "{} has no host", raw);
                    None
                }
            };
            if let Some(expected) = ip {
                prop_assert_eq!(literal, Some(expected), "{} does not mean {}", raw, expected);
            }
            if let Some(literal) = literal {
                let checked = block_on(resolve_checked(&url, false));
                prop_assert_eq!(
                    checked.as_ref().map(Result::is_ok),
                    Some(is_public(literal)),
                    "{} ({}): {:?}", raw, literal, checked
                );
                let allowed = block_on(resolve_checked(&url, true));
                prop_assert!(allowed.is_some_and(|found| found.is_ok_and(|addrs| addrs.iter().all(|a| a.ip() == literal))));
            }
        }

        /// Every address in an internal IPv4 network is refused, and so is every IPv6
        /// address that embeds it (mapped, compatible, NAT64 or 6to4).
        #[test]
        fn proptest_internal_ipv4_is_never_public(ip in internal_v4()) {
            prop_assert!(!is_public(IpAddr::V4(ip)), "{}", ip);
            let bits = u128::from(u32::from(ip));
            for v6 in [
                ip.to_ipv6_mapped(),
                Ipv6Addr::from(bits),
                Ipv6Addr::from((0x0064_ff9b_u128 << 96) | bits),
                Ipv6Addr::from((0x2002_u128 << 112) | (bits << 80) | 1),
            ] {
                prop_assert!(!is_public(IpAddr::V6(v6)), "{}", v6);
            }
        }

        /// Whatever the standard library knows to be internal is not public, and an IPv6
        /// address that embeds an IPv4 one is as public as that address.
        #[test]
        fn proptest_public_agrees_with_the_standard_library(v4 in any_v4(), v6 in any_v6()) {
            if v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_broadcast()
                || v4.is_documentation() || v4.is_unspecified() || v4.is_multicast()
            {
                prop_assert!(!is_public(IpAddr::V4(v4)), "{}", v4);
            }
            prop_assert_eq!(is_public(IpAddr::V6(v4.to_ipv6_mapped())), is_public(IpAddr::V4(v4)));
            if v6.is_loopback() || v6.is_unspecified() || v6.is_multicast()
                || v6.is_unique_local() || v6.is_unicast_link_local()
            {
                prop_assert!(!is_public(IpAddr::V6(v6)), "{}", v6);
            }
            if let Some(inner) = v6.to_ipv4_mapped() {
                prop_assert_eq!(is_public(IpAddr::V6(v6)), is_public(IpAddr::V4(inner)), "{}", v6);
            }
        }
    }
}
