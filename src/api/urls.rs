//! URLs a user gives that leave this server (landing pages the ads link to): `http` or `https`
//! only, a host name or a public address, never loopback, private, link-local, unique-local,
//! multicast or unspecified ones, no credentials in the URL. (adforge fetches no user-given
//! URL itself; inputs arrive as uploads. These links go to ad platforms and to the people who
//! click the ads, so an internal address is refused as a mistake or an attack on them.)

use std::net::IpAddr;

use super::ApiError;

/// Longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2000;

fn refuse(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{field}: {why}"))
}

/// Whether an address is one only a local network can reach.
fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.octets()[0] == 0
                || (v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| internal(IpAddr::V4(v4)))
        }
    }
}

/// Checks a public http(s) URL; the trimmed URL.
pub fn public_url(field: &str, url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    if url.len() > MAX_URL_BYTES {
        return Err(refuse(
            field,
            format!("{} bytes is over the limit of {MAX_URL_BYTES}", url.len()),
        ));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| refuse(field, "must be an http(s) URL"))?;
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refuse(
            field,
            "must not contain spaces or control characters",
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(refuse(field, "must not carry a user name or password"));
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err(refuse(field, "names no host"));
    }
    if host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".local")
        || host.ends_with(".internal")
    {
        return Err(refuse(
            field,
            format!("`{host}` is a local host name, not a public site"),
        ));
    }
    if let Ok(ip) = host.parse::<IpAddr>()
        && internal(ip)
    {
        return Err(refuse(
            field,
            format!("{ip} is a loopback, private or reserved address"),
        ));
    }
    if !host.contains('.') && host.parse::<IpAddr>().is_err() {
        return Err(refuse(field, format!("`{host}` is not a public host name")));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::public_url;

    #[test]
    fn public_sites_pass_and_internal_addresses_do_not() {
        for ok in [
            "https://example.com/coldbrew",
            "http://shop.example.co.uk:8443/a?b=c#d",
            "https://93.184.216.34/x",
            "https://[2606:2800:220:1::1]/",
        ] {
            assert!(public_url("landing_url", ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com/",
            "javascript:alert(1)",
            "http://localhost:8080/",
            "http://127.0.0.1/",
            "http://10.0.0.5/",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://user:pass@example.com/",
            "http://intranet/",
            "http://printer.local/",
            "https://exa mple.com/",
        ] {
            let err = public_url("landing_url", bad).unwrap_err().to_string();
            assert!(err.starts_with("landing_url: "), "{bad}: {err}");
        }
    }
}
