//! Headless Chromium driven over WebDriver: a `chromedriver` this process starts on a free
//! loopback port (killed, with the browsers it started, when dropped) and a fantoccini
//! session with the helpers the tests share. Elements are found by what a user sees or
//! what the page's HTML promises (labels, ids, button and link text), never by CSS classes.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::{TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use reqwest::Url;
use serde_json::{json, Value};
use tempfile::TempDir;

/// How long a page may take to show what a step expects.
const PAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// axe-core, vendored from npm (`vendor/axe-core/README.md`), injected into pages to check.
const AXE: &str = include_str!("vendor/axe-core/axe.min.js");

/// The window every page is first laid out in.
pub const DESKTOP: (u32, u32) = (1280, 900);

/// A program the tests need: `$env` if set, else the first of `names` on `PATH`. Missing
/// is a failure that says how to install it, never a skip.
fn program(env: &str, names: &[&str], package: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{env}={} does not name a file; unset it to look for {} on PATH",
            path.display(),
            names.join(" or ")
        );
        return path;
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the browser tests need {} but it is not on PATH (nor named by ${env}). \
                 Install it with `apt-get install -y --no-install-recommends chromium \
                 chromium-driver` (Debian package {package}), or run `cargo xtask browser-test`, \
                 which installs it first.",
                names.join(" or ")
            )
        })
}

/// A `chromedriver` process in its own process group, so that dropping it also ends every
/// browser it started, whatever state the test left them in.
#[derive(Debug)]
struct Chromedriver {
    child: Child,
    port: u16,
    /// Holds its log file.
    dir: TempDir,
}

impl Chromedriver {
    /// Starts chromedriver on a free port. The port is free when we pick it but may be
    /// taken by another process (a parallel test's server or browser) before chromedriver
    /// binds it: then chromedriver exits, or something else answers on the port, and we
    /// try again on another port.
    fn start() -> Chromedriver {
        const ATTEMPTS: usize = 5;
        let chromedriver = program("LVS_CHROMEDRIVER", &["chromedriver"], "chromium-driver");
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let dir = tempfile::tempdir().expect("a temporary directory for chromedriver");
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .expect("a free loopback port")
                .port();
            let child = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    dir.path().join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
            let mut driver = Chromedriver { child, port, dir };
            match driver.wait_until_ready() {
                Ok(()) => return driver,
                Err(why) => failures.push(format!("port {port}: {why}\n{}", driver.log())),
            }
        }
        panic!(
            "chromedriver did not start in {ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        );
    }

    /// Waits until chromedriver itself answers `GET /status` as ready: a connection
    /// alone could reach another process that took the port.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = String::from("no answer yet");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("chromedriver exited with {status} ({last})"));
            }
            match status_of(addr) {
                Ok(body) if body.contains("\"ready\":true") => return Ok(()),
                Ok(body) => last = format!("/status answered {body:.200}"),
                Err(e) => last = format!("/status: {e}"),
            }
            if Instant::now() >= deadline {
                return Err(format!("not ready on {addr} within 20 s ({last})"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of its log, for failure messages.
    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("chromedriver.log"))
            .unwrap_or_else(|e| format!("(no log: {e})"));
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        format!("chromedriver log (end):\n{}", &text[start..])
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // Its process group: chromedriver and every Chromium process it started.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of `GET /status` at `addr`, over a plain HTTP/1.1 connection (chromedriver
/// refuses HTTP/1.0 and keeps the connection open, so the body ends at its length).
fn status_of(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())
                    .flatten()
            });
            if length.is_some_and(|length| body.len() >= length) {
                return Ok(body.to_owned());
            }
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or(text))
}

/// A Chrome DevTools command, through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, url_error::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _url: &Url) -> (axum::http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// `url::ParseError` by a path the test crate can name (reqwest re-exports only `Url`).
mod url_error {
    pub type ParseError = <reqwest::Url as std::str::FromStr>::Err;
}

/// One headless Chromium session against the server at `base`.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    pub base: String,
    /// Problems found on the way that do not stop the walk (ids, labels, overflow);
    /// the test fails on them at the end, listing them all.
    findings: Mutex<Vec<String>>,
    driver: Chromedriver,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, with a 1280 x 900 viewport.
    pub async fn start(base: String) -> Browser {
        let chromium = program(
            "LVS_CHROMIUM",
            &["chromium", "chromium-browser"],
            "chromium",
        );
        let driver = Chromedriver::start();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    // CI runs as root, where Chromium's sandbox cannot start.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    "--window-size=1280,900",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-breakpad",
                    "--disable-crash-reporter",
                    "--lang=en-US",
                    "--force-color-profile=srgb",
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{}", driver.port);
        let client = match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
        {
            Ok(client) => client,
            Err(e) => panic!(
                "cannot open a Chromium session ({}) through chromedriver: {e}\n{}",
                chromium.display(),
                driver.log()
            ),
        };
        let browser = Browser {
            client,
            base,
            findings: Mutex::new(Vec::new()),
            driver,
        };
        let timeouts =
            TimeoutConfiguration::new(Some(PAGE_TIMEOUT), Some(PAGE_TIMEOUT), Some(Duration::ZERO));
        browser
            .client
            .update_timeouts(timeouts)
            .await
            .expect("set the WebDriver timeouts");
        browser.viewport(DESKTOP.0, DESKTOP.1).await;
        browser
    }

    /// Ends the session (Chromium exits); chromedriver is killed when `self` drops.
    pub async fn quit(self) {
        let findings = self.findings.lock().map(|f| f.clone()).unwrap_or_default();
        let _ = self.client.clone().close().await;
        drop(self.driver);
        assert!(
            findings.is_empty(),
            "{} problem(s) found on the pages:\n- {}",
            findings.len(),
            findings.join("\n- ")
        );
    }

    /// Notes a problem that should fail the test, after the rest of the walk.
    pub fn finding(&self, text: String) {
        if let Ok(mut findings) = self.findings.lock() {
            if !findings.contains(&text) {
                eprintln!("FINDING: {text}");
                findings.push(text);
            }
        }
    }

    /// Sets the layout viewport exactly (CSS pixels), whatever the window manager allows.
    pub async fn viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    }

    async fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("DevTools {cmd}: {e}"))
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_else(|e| format!("(no URL: {e})"))
    }

    /// The current page's path (and query).
    pub async fn path(&self) -> String {
        let url = self.url().await;
        url.strip_prefix(&self.base)
            .map(str::to_owned)
            .unwrap_or(url)
    }

    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// The HTTP status of the current page's document.
    pub async fn status(&self) -> u64 {
        let status = self
            .js(
                "const n = performance.getEntriesByType('navigation')[0]; \
                 return n ? n.responseStatus : null;",
                vec![],
            )
            .await;
        match status.as_u64() {
            Some(status) => status,
            None => panic!("no HTTP status for {}", self.url().await),
        }
    }

    /// Waits until the page's `<h1>` reads `heading`, then checks the HTTP status.
    pub async fn expect_page(&self, heading: &str, status: u64) {
        let locator = format!("//h1[normalize-space()={}]", literal(heading));
        let found = self
            .client
            .wait()
            .at_most(PAGE_TIMEOUT)
            .every(Duration::from_millis(50))
            .for_element(Locator::XPath(&locator))
            .await;
        if found.is_err() {
            let h1 = match self.client.find(Locator::Css("h1")).await {
                Ok(h1) => h1.text().await.unwrap_or_default(),
                Err(_) => "(no h1)".into(),
            };
            panic!(
                "expected the page {heading:?}, but {} shows {h1:?}:\n{}",
                self.url().await,
                self.main_text().await
            );
        }
        assert_eq!(
            self.status().await,
            status,
            "HTTP status of {} ({heading})",
            self.url().await
        );
        self.audit(heading).await;
    }

    /// What `<main>` shows, for failure messages.
    pub async fn main_text(&self) -> String {
        match self.client.find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(e) => format!("(no main: {e})"),
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!(
                "no {css} on {}: {e}\n{}",
                self.url().await,
                self.main_text().await
            ),
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
    }

    /// The first element matching `xpath` inside `scope`.
    pub async fn within(&self, scope: &Element, xpath: &str) -> Element {
        match scope.find(Locator::XPath(xpath)).await {
            Ok(element) => element,
            Err(e) => panic!(
                "no {xpath} in its part of {}: {e}\n{}",
                self.url().await,
                scope.text().await.unwrap_or_default()
            ),
        }
    }

    /// The flash message at the top of `<main>`.
    pub async fn flash(&self) -> String {
        let flash = self.find("main > [role='status']").await;
        text(&flash).await
    }

    /// What the flash after a change of the desired state says past the generation it
    /// names (`"Generation 7: weight of ... set to 5."`), which must be there.
    pub async fn committed(&self) -> String {
        let flash = self.flash().await;
        let rest = flash
            .strip_prefix("Generation ")
            .and_then(|rest| rest.split_once(": "))
            .filter(|(generation, _)| generation.parse::<u64>().is_ok());
        match rest {
            Some((_, said)) => said.to_owned(),
            None => panic!("the flash names no generation: {flash:?}"),
        }
    }

    /// The control labelled `label` in `scope` (through the label's `for`, looked up in
    /// `scope`, so a page with two forms finds the right one).
    pub async fn field(&self, scope: &Element, label: &str) -> Element {
        let xpath = format!(".//label[normalize-space()={}]", literal(label));
        let label_element = self.within(scope, &xpath).await;
        let id = label_element
            .attr("for")
            .await
            .expect("read the label's for")
            .unwrap_or_else(|| panic!("the label {label:?} has no `for`"));
        self.within(scope, &format!(".//*[@id={}]", literal(&id)))
            .await
    }

    /// Types `value` into the field labelled `label`, replacing what it held.
    pub async fn fill(&self, scope: &Element, label: &str, value: &str) {
        let field = self.field(scope, label).await;
        field.clear().await.expect("clear a field");
        field.send_keys(value).await.expect("type into a field");
    }

    pub async fn choose(&self, scope: &Element, label: &str, value: &str) {
        let field = self.field(scope, label).await;
        field
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {value:?} for {label:?}: {e}"));
    }

    /// Signs in on the sign-in page, as a person types it, and lands where it leads.
    pub async fn sign_in(&self, user: &str, password: &str) {
        if !self.path().await.starts_with("/login") {
            self.goto("/login").await;
        }
        self.expect_page("Sign in", 200).await;
        let form = self.find("main form").await;
        self.fill(&form, "User name", user).await;
        self.fill(&form, "Password", password).await;
        self.press(&form, "Sign in").await;
        let flash = self.flash().await;
        assert!(
            flash.starts_with(&format!("Signed in as {user}")),
            "{flash}"
        );
    }

    /// Clicks the button in `scope` whose text (hidden words included) is `label`.
    pub async fn press(&self, scope: &Element, label: &str) {
        let xpath = format!(".//button[normalize-space()={}]", literal(label));
        let button = self.within(scope, &xpath).await;
        self.click_to_leave(&button, label).await;
    }

    /// Follows the link in `scope` whose text (hidden words included) is `label`.
    pub async fn follow(&self, scope: &Element, label: &str) {
        let xpath = format!(".//a[normalize-space()={}]", literal(label));
        let link = self.within(scope, &xpath).await;
        self.click_to_leave(&link, label).await;
    }

    /// Clicks `element` and waits until the browser has left the page, so the next step
    /// never reads the old page (the new one may well have the same heading).
    async fn click_to_leave(&self, element: &Element, label: &str) {
        let old = self.find("html").await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {label:?}: {e}"));
        let deadline = Instant::now() + PAGE_TIMEOUT;
        // The old document's root goes stale once the new document replaces it.
        while old.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "clicking {label:?} left {} unchanged",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Checks what a page's HTML promises assistive technology: unique ids, every
    /// `label[for]` naming a control that it labels, and axe-core's serious and critical
    /// rules. Every page [`Self::expect_page`] waits for is checked; a part a script
    /// swapped in is checked by calling this.
    pub async fn audit(&self, page: &str) {
        let problems = self
            .js(
                r#"
                const problems = [];
                const seen = new Map();
                for (const el of document.querySelectorAll('[id]')) {
                  seen.set(el.id, (seen.get(el.id) || 0) + 1);
                }
                for (const [id, n] of seen) {
                  if (n > 1) problems.push(`id "${id}" is used ${n} times`);
                }
                for (const label of document.querySelectorAll('label[for]')) {
                  const target = document.getElementById(label.htmlFor);
                  const text = label.textContent.trim();
                  if (!target) {
                    problems.push(`label "${text}" names no element (#${label.htmlFor})`);
                  } else if (!target.labels || ![...target.labels].includes(label)) {
                    problems.push(`label "${text}" does not label #${label.htmlFor}`);
                  } else if (label.closest('form') !== target.closest('form')) {
                    problems.push(`label "${text}" labels #${label.htmlFor} in another form`);
                  }
                }
                return problems;
                "#,
                vec![],
            )
            .await;
        let path = self.path().await;
        for problem in problems.as_array().into_iter().flatten() {
            let problem = problem.as_str().unwrap_or_default();
            self.finding(format!("{page} ({path}): {problem}"));
        }
        self.axe(page).await;
    }

    /// Runs axe-core on the current page (WCAG 2.x A and AA plus best practices) and makes
    /// every serious or critical violation a finding naming the page, the rule and where.
    /// No rule is turned off, nor any part of a page left out.
    pub async fn axe(&self, page: &str) {
        let path = self.path().await;
        for violation in self.axe_violations().await {
            self.finding(format!("{page} ({path}): {violation}"));
        }
    }

    /// The serious and critical axe-core violations on the current page, one line each.
    pub async fn axe_violations(&self) -> Vec<String> {
        // Injected per document: the server never serves axe, and each page load forgets it.
        let loaded = self
            .js("return typeof window.axe === 'object';", vec![])
            .await;
        if loaded != Value::Bool(true) {
            self.js(AXE, vec![]).await;
        }
        let url = self.url().await;
        let result = self
            .client
            .execute_async(
                r#"
                const done = arguments[0];
                axe.run(document, {
                  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
                  resultTypes: ['violations'],
                }).then(
                  (r) => done(r.violations
                    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                    .map((v) => {
                      const targets = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ');
                      const more = v.nodes.length > 3 ? ` and ${v.nodes.length - 3} more` : '';
                      return `axe ${v.id} (${v.impact}): ${v.help} at ${targets}${more}`;
                    })),
                  (e) => done([`axe did not run: ${e}`]),
                );
                "#,
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("axe on {url}: {e}"));
        result
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Full-page PNGs of the current page at 1280 and 390 CSS pixels wide, as
    /// `<dir>/<name>-<width>.png`; a page wider than the 390 px viewport is a finding.
    pub async fn screenshots(&self, dir: &Path, name: &str) {
        for (width, height) in [DESKTOP, (390, 844)] {
            self.viewport(width, height).await;
            let size = self
                .js(
                    "const d = document.documentElement; \
                     return [d.scrollWidth, Math.max(d.scrollHeight, document.body.scrollHeight)];",
                    vec![],
                )
                .await;
            let dimension = |i: usize| {
                size.get(i)
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(height)
            };
            let (scroll_width, full_height) = (dimension(0), dimension(1));
            if scroll_width > width {
                let wide = self.widest(width).await;
                self.finding(format!(
                    "{name} ({}) at {width} px is {scroll_width} px wide (horizontal \
                     scrolling of the whole page); widest: {wide}",
                    self.path().await
                ));
            }
            self.viewport(width, full_height.clamp(height, 12_000))
                .await;
            let png = self
                .client
                .screenshot()
                .await
                .unwrap_or_else(|e| panic!("screenshot of {name}: {e}"));
            let path = dir.join(format!("{name}-{width}.png"));
            std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        }
        self.viewport(DESKTOP.0, DESKTOP.1).await;
    }

    /// Where a page sticks out of a `width` px viewport: the outermost elements past its
    /// right edge that no scrolling box of theirs contains.
    async fn widest(&self, width: u32) -> String {
        let found = self
            .js(
                r#"
                const width = arguments[0] + 1;
                const describe = (el) => {
                  let what = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '');
                  if (typeof el.className === 'string' && el.className) what += '.' + el.className.trim().split(/\s+/).join('.');
                  const text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
                  return text ? `${what} "${text}"` : what;
                };
                const contained = (el) => {
                  // A scrolling ancestor contains it unless it is positioned out of that box.
                  const position = getComputedStyle(el).position;
                  if (position === 'fixed') return false;
                  for (let a = el.parentElement; a; a = a.parentElement) {
                    const style = getComputedStyle(a);
                    if (position === 'absolute' && style.position === 'static') continue;
                    if (style.overflowX !== 'visible') return a !== document.body && a !== document.documentElement;
                    if (position === 'absolute') return false;
                  }
                  return false;
                };
                const out = [];
                for (const el of document.querySelectorAll('body *')) {
                  const r = el.getBoundingClientRect();
                  if (r.right <= width || contained(el)) continue;
                  const parent = el.parentElement.getBoundingClientRect();
                  const absolute = getComputedStyle(el).position === 'absolute';
                  if (parent.right > width && !absolute) continue;
                  out.push(`${describe(el)}${absolute ? ' (position: absolute)' : ''} reaching ${Math.round(r.right)} px`);
                }
                return out.slice(0, 8).join('; ') + (out.length > 8 ? `; and ${out.length - 8} more` : '');
                "#,
                vec![json!(width)],
            )
            .await;
        found.as_str().unwrap_or_default().to_owned()
    }
}

/// An element's visible text, whitespace collapsed.
pub async fn text(element: &Element) -> String {
    let text = element.text().await.expect("read an element's text");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An element's DOM text (hidden words included), whitespace collapsed.
pub async fn dom_text(element: &Element) -> String {
    let text = element
        .prop("textContent")
        .await
        .expect("read an element's text content")
        .unwrap_or_default();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A form control's current value.
pub async fn value(element: &Element) -> String {
    element
        .prop("value")
        .await
        .expect("read a control's value")
        .unwrap_or_default()
}

/// `text` as an XPath string literal.
pub fn literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
