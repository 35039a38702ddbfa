//! Signing in under attack: a burst of wrong passwords must not slow anybody else down.
//! Every wrong password costs an argon2id hash (a decoy one for an unknown name), and the
//! throttle lets each address and each name fail 3 times before it costs nothing, so the
//! burst comes from 100 loopback addresses with 100 names: the worst case, 100 hashes.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use crate::common::{timed_read, Lcg, Result};

/// Sign-in attempts in the burst, each from its own address.
pub const ATTEMPTS: u8 = 100;

/// What the burst did to single reads.
pub struct Burst {
    /// Single reads, one after another, while the attempts were answered.
    pub reads: Vec<Duration>,
    /// From the first attempt sent to the last answered.
    pub took: Duration,
}

/// A browser at `address`: its sign-in page fetched, so it holds the CSRF cookie and token.
async fn browser(base: &str, address: IpAddr) -> Result<(reqwest::Client, String)> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(address)
        .build()?;
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let token = page
        .split("<meta name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("no CSRF token on the sign-in page")?
        .to_owned();
    Ok((client, token))
}

/// POSTs the sign-in form; the status.
async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    user: &str,
    password: &str,
) -> Result<reqwest::Response> {
    let body = serde_urlencoded::to_string([
        ("_csrf", token),
        ("username", user),
        ("password", password),
    ])?;
    Ok(client
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", base)
        .body(body)
        .send()
        .await?)
}

/// The session cookie of `user`, signed in with `password` as a browser would.
pub async fn session(base: &str, user: &str, password: &str) -> Result<String> {
    let (client, token) = browser(base, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
    let response = sign_in(&client, base, &token, user, password).await?;
    if response.status() != 303 {
        return Err(format!("signing in as {user}: {}", response.status()).into());
    }
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|cookie| cookie.strip_prefix("lvs_session="))
        .and_then(|rest| rest.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| "no session cookie".into())
}

/// Sends [`ATTEMPTS`] wrong passwords at once, from 127.0.1.1 onwards, while `client` reads
/// single services one after another until the last attempt is answered.
pub async fn burst(client: &reqwest::Client, base: &str, api: &str) -> Result<Burst> {
    let mut browsers = Vec::new();
    for i in 1..=ATTEMPTS {
        browsers.push(browser(base, IpAddr::V4(Ipv4Addr::new(127, 0, 1, i))).await?);
    }
    let started = Instant::now();
    let attempts: Vec<_> = browsers
        .into_iter()
        .enumerate()
        .map(|(i, (client, token))| {
            let base = base.to_owned();
            tokio::spawn(async move {
                let user = format!("intruder-{i}");
                let response = sign_in(&client, &base, &token, &user, "not the password")
                    .await
                    .map_err(|e| e.to_string())?;
                match response.status().as_u16() {
                    401 => Ok(()),
                    other => Err(format!("a wrong password was answered {other}")),
                }
            })
        })
        .collect();
    let mut rng = Lcg(13);
    let mut reads = Vec::new();
    while attempts.iter().any(|a| !a.is_finished()) {
        reads.push(timed_read(client, api, &mut rng).await?);
    }
    let took = started.elapsed();
    for attempt in attempts {
        attempt.await??;
    }
    Ok(Burst { reads, took })
}
