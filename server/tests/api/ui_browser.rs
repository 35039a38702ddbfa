//! A browser without JavaScript for the UI's tests: a cookie store, no redirects followed,
//! the CSRF token read from each page's `<meta>`, and forms submitted as a browser submits
//! them (read from the page's HTML, with the fields the test types over them).

use reqwest::header::{HeaderName, CONTENT_TYPE, ORIGIN};
use reqwest::redirect::Policy;
use reqwest::Method;

use crate::helpers::{cluster_with_service, read, Resp, TestApp};

/// One browser: its own cookie jar, so its own session and CSRF token.
#[derive(Debug)]
pub struct Browser {
    base: String,
    client: reqwest::Client,
    /// The token of the last page that carried one.
    pub csrf: Option<String>,
}

impl Browser {
    /// A browser signed in as user `admin`.
    pub fn new(app: &TestApp) -> Browser {
        Browser::with_session(app, Some(app.admin_session()))
    }

    /// A browser nobody signed in to.
    pub fn anonymous(app: &TestApp) -> Browser {
        Browser::with_session(app, None)
    }

    /// A browser holding the session cookie `session`, if any.
    pub fn with_session(app: &TestApp, session: Option<&str>) -> Browser {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        if let Some(session) = session {
            let url: reqwest::Url = app.url("/").parse().expect("the server's URL");
            jar.add_cookie_str(&format!("lvs_session={session}; Path=/"), &url);
        }
        let client = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(Policy::none())
            .build()
            .expect("a browser client");
        Browser {
            base: app.url(""),
            client,
            csrf: None,
        }
    }

    /// The server's address, as the browser's address bar shows it (`http://127.0.0.1:N`).
    pub fn origin(&self) -> &str {
        &self.base
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Sends a request and reads the answer; remembers a page's CSRF token.
    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Resp {
        let resp = read(request.send().await.expect("the request is answered")).await;
        if let Some(token) = csrf_token(&resp.text).filter(|t| !t.is_empty()) {
            self.csrf = Some(token);
        }
        resp
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.send(self.request(Method::GET, path)).await
    }

    /// GETs a page that must answer 200 HTML.
    pub async fn page(&mut self, path: &str) -> Resp {
        let resp = self.get(path).await;
        assert_html(&resp, 200);
        resp
    }

    /// The CSRF token of the session, fetching a page first when none was seen yet.
    pub async fn token(&mut self) -> String {
        if self.csrf.is_none() {
            // Public, so any browser, signed in or not, gets its token there.
            self.page("/login").await;
        }
        self.csrf.clone().expect("a CSRF token")
    }

    /// POSTs `fields` urlencoded, with the session's `_csrf` added.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let token = self.token().await;
        let mut pairs: Vec<(String, String)> = vec![("_csrf".into(), token)];
        pairs.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self.post_pairs(path, &pairs).await
    }

    /// POSTs exactly these pairs, urlencoded (no token added).
    pub async fn post_pairs(&mut self, path: &str, pairs: &[(String, String)]) -> Resp {
        let body = serde_urlencoded::to_string(pairs).expect("a urlencoded form");
        let request = self
            .request(Method::POST, path)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ORIGIN, self.base.clone())
            .body(body);
        self.send(request).await
    }

    /// Submits the form of `html` whose action is `action`, as a browser would: its fields
    /// as rendered (hidden ones, the CSRF token and ETags included), each of `typed`
    /// replacing the field of that name (or added when the form has none).
    pub async fn submit(&mut self, html: &str, action: &str, typed: &[(&str, &str)]) -> Resp {
        let mut pairs = form_fields(html, action);
        for (name, value) in typed {
            match pairs.iter_mut().find(|(k, _)| k == name) {
                Some(pair) => pair.1 = (*value).to_owned(),
                None => pairs.push(((*name).to_owned(), (*value).to_owned())),
            }
        }
        self.post_pairs(action, &pairs).await
    }

    /// [`submit`](Browser::submit), asserting the form was refused: 422, with the page again
    /// to show why.
    pub async fn submit_refused(
        &mut self,
        html: &str,
        action: &str,
        typed: &[(&str, &str)],
    ) -> Resp {
        let resp = self.submit(html, action, typed).await;
        assert_html(&resp, 422);
        resp
    }

    /// Opens `page` and submits its form posting to `action`, which must answer with a
    /// redirect; returns where to.
    pub async fn submit_from(
        &mut self,
        page: &str,
        action: &str,
        typed: &[(&str, &str)],
    ) -> String {
        let page = self.page(page).await;
        redirected(&self.submit(&page.text, action, typed).await)
    }

    /// Follows a POST's redirect (303 or 302) with a GET of its `Location`.
    pub async fn follow(&mut self, resp: &Resp) -> Resp {
        let location = redirected(resp);
        self.page(&location).await
    }

    /// A request with extra headers, for htmx-style and cross-site requests.
    pub async fn post_with_headers(
        &mut self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut request = self.request(Method::POST, path).body(body.to_owned());
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("a header name");
            request = request.header(name, *value);
        }
        self.send(request).await
    }
}

/// Where most form tests start: a server whose cluster `web` has one service (see
/// [`cluster_with_service`]), a browser, the service's id and the path of its page.
pub async fn service_in_browser() -> (TestApp, Browser, i64, String) {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let browser = Browser::new(&app);
    (
        app,
        browser,
        service,
        format!("/clusters/web/services/{service}"),
    )
}

/// Asserts a POST answered with a redirect; returns where to.
#[track_caller]
pub fn redirected(resp: &Resp) -> String {
    assert!(
        resp.status == 303 || resp.status == 302,
        "expected a redirect, got {}: {}",
        resp.status,
        text(&resp.text)
    );
    resp.location.clone().expect("a Location header")
}

/// Asserts an HTML answer with this status.
#[track_caller]
pub fn assert_html(resp: &Resp, status: u16) {
    assert_eq!(
        resp.status,
        status,
        "expected {status}, got {}: {}",
        resp.status,
        text(&resp.text)
    );
    assert!(
        resp.content_type.starts_with("text/html"),
        "expected HTML, got {:?}: {}",
        resp.content_type,
        resp.text
    );
    assert!(
        resp.text.starts_with("<!doctype html>") || !resp.text.contains("<html"),
        "a whole page starts with its doctype: {}",
        resp.text
    );
}

/// Asserts a fragment (no layout) in HTML.
#[track_caller]
pub fn assert_fragment(resp: &Resp) {
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(
        resp.content_type.starts_with("text/html"),
        "{:?}",
        resp.content_type
    );
    assert!(
        !resp.text.contains("<html") && !resp.text.contains("<!doctype"),
        "a fragment has no layout: {}",
        resp.text
    );
}

// Reading HTML -----------------------------------------------------------------------------

/// `<meta name="csrf-token" content="...">`.
pub fn csrf_token(html: &str) -> Option<String> {
    tags(html, "meta")
        .find(|t| attr(t, "name").as_deref() == Some("csrf-token"))
        .and_then(|t| attr(t, "content"))
}

/// The page's text, as read: tags removed (a block's edge as a space, an inline element's
/// as nothing), entities decoded, whitespace collapsed to one space.
pub fn text(html: &str) -> String {
    const INLINE: &[&str] = &[
        "a", "abbr", "b", "code", "em", "i", "label", "small", "span", "strong", "time",
    ];
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        let tag = &rest[at + 1..];
        let end = tag.find('>').map_or(tag.len(), |e| e + 1);
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if !INLINE.contains(&name.as_str()) {
            out.push(' ');
        }
        rest = &tag[end..];
    }
    out.push_str(rest);
    decode(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// HTML entities as askama writes them, and the common named ones.
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|end| *end <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every start tag `<name ...>` of the HTML, as its source text.
pub fn tags<'a>(html: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{name}");
    let mut rest = html;
    std::iter::from_fn(move || loop {
        let at = rest.find(&open)?;
        let after = &rest[at + open.len()..];
        let boundary = after
            .chars()
            .next()
            .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/');
        if !boundary {
            rest = after;
            continue;
        }
        let end = after.find('>').map_or(after.len(), |e| e + 1);
        let tag = &rest[at..at + open.len() + end];
        rest = &after[end..];
        return Some(tag);
    })
}

/// A tag's attribute, decoded; `Some("")` for a boolean attribute.
pub fn attr(tag: &str, name: &str) -> Option<String> {
    attrs(tag)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Every attribute of a start tag, in order, values decoded.
pub fn attrs(tag: &str) -> Vec<(String, String)> {
    let inner = tag
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_end_matches('/');
    let mut chars = inner.chars().peekable();
    // The tag's name.
    while chars.next_if(|c| !c.is_whitespace()).is_some() {}
    let mut out = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace() && *c != '=')).collect();
        if name.is_empty() {
            return out;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            out.push((name, String::new()));
            continue;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let value: String = match chars.peek().copied() {
            Some(quote @ ('"' | '\'')) => {
                chars.next();
                let value = std::iter::from_fn(|| chars.next_if(|c| *c != quote)).collect();
                chars.next();
                value
            }
            _ => std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect(),
        };
        out.push((name, decode(&value)));
    }
}

/// The start tag `<name ...>` whose attribute `key` is `value`.
#[track_caller]
pub fn tag_where(html: &str, name: &str, key: &str, value: &str) -> String {
    tags(html, name)
        .find(|t| attr(t, key).as_deref() == Some(value))
        .unwrap_or_else(|| panic!("no <{name} {key}=\"{value}\"> in the page: {html}"))
        .to_owned()
}

/// The HTML of the `<form>` whose action is `action`, up to its `</form>`.
#[track_caller]
pub fn form_html<'a>(html: &'a str, action: &str) -> &'a str {
    let mut rest = html;
    while let Some(at) = rest.find("<form") {
        let from = &rest[at..];
        let end = from
            .find("</form>")
            .map_or(from.len(), |e| e + "</form>".len());
        let tag_end = from.find('>').map_or(from.len(), |e| e + 1);
        if attr(&from[..tag_end], "action").as_deref() == Some(action) {
            return &from[..end];
        }
        rest = &from[tag_end..];
    }
    panic!("no form with action {action:?} in the page: {}", text(html));
}

/// Whether the page has a form posting to `action`.
pub fn has_form(html: &str, action: &str) -> bool {
    tags(html, "form").any(|t| attr(t, "action").as_deref() == Some(action))
}

/// The fields a browser submits for the form posting to `action`.
#[track_caller]
pub fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let form = form_html(html, action);
    let mut fields = Vec::new();
    // Fields in document order: find each control's start.
    let mut rest = form;
    loop {
        let next = ["<input", "<select", "<textarea"]
            .iter()
            .filter_map(|open| rest.find(open).map(|at| (at, *open)))
            .min();
        let Some((at, open)) = next else {
            return fields;
        };
        let from = &rest[at..];
        let tag_end = from.find('>').map_or(from.len(), |e| e + 1);
        let tag = &from[..tag_end];
        let name = attr(tag, "name");
        match open {
            "<input" => {
                let kind = attr(tag, "type").unwrap_or_else(|| "text".into());
                let checked = attr(tag, "checked").is_some();
                let value = attr(tag, "value").unwrap_or_default();
                if let Some(name) = name {
                    match kind.as_str() {
                        "checkbox" | "radio" if !checked => {}
                        "checkbox" | "radio" if value.is_empty() => {
                            fields.push((name, "on".into()));
                        }
                        "submit" | "button" | "reset" => {}
                        _ => fields.push((name, value)),
                    }
                }
                rest = &from[tag_end..];
            }
            "<select" => {
                let end = from.find("</select>").unwrap_or(from.len());
                let body = &from[tag_end..end];
                let options: Vec<&str> = tags(body, "option").collect();
                let chosen = options
                    .iter()
                    .find(|o| attr(o, "selected").is_some())
                    .or(options.first());
                if let (Some(name), Some(option)) = (name, chosen) {
                    fields.push((name, attr(option, "value").unwrap_or_default()));
                }
                rest = &from[end..];
            }
            _ => {
                let end = from.find("</textarea>").unwrap_or(from.len());
                let body = &from[tag_end..end];
                // The HTML parser drops one newline right after `<textarea>`.
                let body = body.strip_prefix('\n').unwrap_or(body);
                if let Some(name) = name {
                    fields.push((name, decode(body)));
                }
                rest = &from[end..];
            }
        }
    }
}

/// The value of the field `name` in the form posting to `action`.
#[track_caller]
pub fn field(html: &str, action: &str, name: &str) -> String {
    form_fields(html, action)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {name} in form {action}"))
}

/// Every `href` of the page's links, decoded.
pub fn links(html: &str) -> Vec<String> {
    tags(html, "a").filter_map(|t| attr(t, "href")).collect()
}

/// The `href` of the link whose text is `label`.
pub fn link_labelled(html: &str, label: &str) -> Option<String> {
    tags(html, "a").find_map(|tag| {
        let at = offset(html, tag) + tag.len();
        let end = html[at..].find("</a>").map_or(html.len(), |e| at + e);
        (text(&html[at..end]) == label)
            .then(|| attr(tag, "href"))
            .flatten()
    })
}

/// Where `part`, a slice of `html`, starts in it.
fn offset(html: &str, part: &str) -> usize {
    part.as_ptr() as usize - html.as_ptr() as usize
}

/// The text of the element `<name ...>` whose attribute `key` is `value`, up to the next
/// `</name>` (enough for the flat elements the tests look into).
#[track_caller]
pub fn element_text(html: &str, name: &str, key: &str, value: &str) -> String {
    let tag = tags(html, name)
        .find(|t| attr(t, key).as_deref() == Some(value))
        .unwrap_or_else(|| panic!("no <{name} {key}=\"{value}\"> in the page: {html}"));
    let at = offset(html, tag) + tag.len();
    let close = format!("</{name}>");
    let end = html[at..].find(&close).map_or(html.len(), |e| at + e);
    text(&html[at..end])
}

/// The flash message of a page, if it shows one.
pub fn flash(html: &str) -> Option<String> {
    let main = html.find("<main").map_or(html, |at| &html[at..]);
    let tag = tags(main, "div").find(|t| {
        attr(t, "role").as_deref() == Some("status")
            && attr(t, "class").is_some_and(|c| c.starts_with("alert"))
    })?;
    let at = offset(main, tag) + tag.len();
    let end = main[at..].find("</div>")? + at;
    Some(text(&main[at..end]))
}

/// How many times `needle` occurs in `haystack`.
pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn ui_browser_reads_forms_as_a_browser_submits_them() {
    let html = r#"<form method="post" action="/a?x=1&amp;y=2">
          <input type="hidden" name="_csrf" value="t">
          <input id="f-name" name="name" value="a &#34;b&#34;" aria-invalid="true">
          <select name="s"><option value="1">one</option><option value="2" selected>two</option></select>
          <label><input type="checkbox" name="c" value="x" checked></label>
          <label><input type="checkbox" name="c" value="y"></label>
          <textarea name="t">
line 1 &lt;a&gt;
</textarea>
          <button type="submit">Go</button>
        </form>"#;
    assert_eq!(
        form_fields(html, "/a?x=1&y=2"),
        [
            ("_csrf".to_owned(), "t".to_owned()),
            ("name".into(), "a \"b\"".into()),
            ("s".into(), "2".into()),
            ("c".into(), "x".into()),
            ("t".into(), "line 1 <a>\n".into()),
        ]
    );
    let input = tag_where(html, "input", "id", "f-name");
    assert_eq!(attr(&input, "aria-invalid").as_deref(), Some("true"));
    assert_eq!(text("<p>a&amp;b <b>c</b>\n d</p>"), "a&b c d");
}
