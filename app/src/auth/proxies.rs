//! The client's address behind reverse proxies. `X-Forwarded-For` is believed only when the
//! connection comes from a proxy the operator named (`TRUSTED_PROXIES`), and only as far
//! back as the chain of named proxies goes: anyone can send the header, so believing it
//! from anywhere else would let a client pick the address its sign-ins are throttled under.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An address range: an address and how many of its leading bits an address must share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    addr: IpAddr,
    prefix: u8,
}

impl Range {
    fn contains(&self, ip: IpAddr) -> bool {
        fn same_prefix(a: u128, b: u128, bits: u32, prefix: u8) -> bool {
            let shift = bits - u32::from(prefix);
            // A shift by the whole width (prefix 0) would overflow: every address matches.
            shift >= bits || (a >> shift) == (b >> shift)
        }
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(u32::from(net).into(), u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(u128::from(net), u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

impl FromStr for Range {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("`{text}` is not an IP address or a CIDR range like 10.0.0.0/8");
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr = IpAddr::from_str(addr)
            .map_err(|_| invalid())?
            .to_canonical();
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(invalid)?,
        };
        Ok(Range { addr, prefix })
    }
}

/// The proxies whose `X-Forwarded-For` is believed: addresses and CIDR ranges, separated by
/// commas (`TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1`). None by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Range>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Range::from_str)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl TrustedProxies {
    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// Who is calling: the connection's `peer`, unless it is a trusted proxy. Then the
    /// `X-Forwarded-For` entries (`forwarded_for`: the header's values in the order they
    /// came, each a comma-separated list) are read from the right, each appended by the hop
    /// before it: the first that is not a trusted proxy is the client. An entry that is not
    /// an address ends the walk at the last one believed; a chain of trusted proxies only
    /// ends at its leftmost entry.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .collect();
        for entry in entries.into_iter().rev() {
            let Some(ip) = parse_entry(entry) else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, or an address and port as some proxies write
/// them (`192.0.2.1:443`, `[2001:db8::1]:443`, `[2001:db8::1]`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = IpAddr::from_str(entry)
        .ok()
        .or_else(|| SocketAddr::from_str(entry).ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
            IpAddr::from_str(inner).ok()
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        IpAddr::from_str(text).expect("test address")
    }

    fn trusted(text: &str) -> TrustedProxies {
        text.parse().expect("test proxies")
    }

    #[test]
    fn parses_addresses_and_ranges_and_refuses_the_rest() {
        assert!(trusted("").0.is_empty());
        assert!(trusted(" , ").0.is_empty());
        assert_eq!(
            trusted("10.0.0.0/8, 127.0.0.1,::1,2001:db8::/32").0.len(),
            4
        );
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.1/-1",
            "10.0.0/8",
            "proxy.local",
            "10.0.0.1/",
        ] {
            let error = bad.parse::<TrustedProxies>().expect_err(bad);
            assert!(error.contains(bad), "{error}");
        }
    }

    #[test]
    fn ranges_match_by_prefix() {
        let proxies = trusted("10.0.0.0/8,192.168.1.7,2001:db8::/32");
        assert!(proxies.contains(ip("10.255.1.2")));
        assert!(!proxies.contains(ip("11.0.0.1")));
        assert!(proxies.contains(ip("192.168.1.7")));
        assert!(!proxies.contains(ip("192.168.1.8")));
        assert!(proxies.contains(ip("2001:db8:ffff::1")));
        assert!(!proxies.contains(ip("2001:db9::1")));
        // An IPv4 address as IPv6 sees it (a dual-stack socket) is the IPv4 address.
        assert!(proxies.contains(ip("::ffff:10.1.2.3")));
        assert!(trusted("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!trusted("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(trusted("::/0").contains(ip("2001:db8::1")));
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let proxies = trusted("10.0.0.0/8");
        // Not from a proxy: the header is the client's own word, and ignored.
        assert_eq!(
            proxies.client_ip(ip("203.0.113.9"), ["198.51.100.1"]),
            ip("203.0.113.9")
        );
        // None configured: likewise.
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("10.0.0.2"), ["198.51.100.1"]),
            ip("10.0.0.2")
        );
        // From the proxy: the address it appended.
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), ["198.51.100.1"]),
            ip("198.51.100.1")
        );
        // The proxy's header without an entry: the proxy is all that is known.
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), [] as [&str; 0]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let proxies = trusted("10.0.0.0/8");
        // The client wrote an entry of its own before the proxies' ones: not believed.
        let header = ["1.1.1.1, 198.51.100.1", "10.0.0.5"];
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), header),
            ip("198.51.100.1")
        );
        // Every hop a trusted proxy: the leftmost.
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), ["10.0.0.9,10.0.0.5"]),
            ip("10.0.0.9")
        );
        // A malformed entry: the last address believed.
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), ["198.51.100.1, unknown"]),
            ip("10.0.0.2")
        );
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), ["nonsense, 10.0.0.5"]),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn entries_with_ports_and_brackets() {
        let proxies = trusted("127.0.0.1,::1");
        assert_eq!(
            proxies.client_ip(ip("::1"), ["198.51.100.1:5123"]),
            ip("198.51.100.1")
        );
        assert_eq!(
            proxies.client_ip(ip("127.0.0.1"), ["[2001:db8::7]:443"]),
            ip("2001:db8::7")
        );
        assert_eq!(
            proxies.client_ip(ip("127.0.0.1"), ["[2001:db8::7]"]),
            ip("2001:db8::7")
        );
        assert_eq!(
            proxies.client_ip(ip("127.0.0.1"), [" ::ffff:198.51.100.2 "]),
            ip("198.51.100.2")
        );
    }
}
