//! Paged lists. Newest-first history pages (changes, health events) are asked for with the
//! `before` cursor their "Older" link carries; every paged list also says "page X of N" and
//! takes `page=N` from its jump form (a plain GET form, so it works without JavaScript).

use axum::http::StatusCode;

use super::error::{UiError, UiResult};

/// Where a list's page is, and what its jump form carries besides the page number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pager {
    /// 1-based.
    pub page: i64,
    /// At least 1, so an empty list is "page 1 of 1".
    pub pages: i64,
    /// The list's address, which the jump form asks.
    pub action: String,
    /// The list's other parameters (its sort), kept by the jump form as hidden fields.
    pub keep: Vec<(&'static str, String)>,
}

impl Pager {
    /// The page of a newest-first list showing the newest `remaining` of `total` rows
    /// onwards: the rows before it are the pages before it.
    pub fn history(total: i64, remaining: i64, size: i64, action: String) -> Pager {
        Pager {
            page: (total - remaining).max(0) / size + 1,
            pages: page_count(total, size),
            action,
            keep: Vec::new(),
        }
    }

    /// Whether there is a page after this one.
    pub fn has_next(&self) -> bool {
        self.page < self.pages
    }
}

/// Pages of `size` that `total` rows fill; 1 for none.
pub fn page_count(total: i64, size: i64) -> i64 {
    ((total + size - 1) / size).max(1)
}

/// `page` from a query string: `None` when not asked for, an error naming the field when
/// it is not one of the list's `pages`.
pub fn requested_page(raw_query: Option<&str>, pages: i64) -> UiResult<Option<i64>> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw_query.unwrap_or_default()).unwrap_or_default();
    let Some((_, raw)) = pairs.into_iter().find(|(k, _)| k == "page") else {
        return Ok(None);
    };
    match raw.trim().parse::<i64>() {
        Ok(page) if (1..=pages).contains(&page) => Ok(Some(page)),
        _ => Err(UiError::Status(
            StatusCode::BAD_REQUEST,
            format!("page: {raw:?} is not a page of this list, which has pages 1 to {pages}"),
        )),
    }
}

/// `before` from a page's query string; `None` on the first (newest) page.
pub fn before_cursor(raw_query: Option<&str>) -> Option<i64> {
    raw_query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "before"))
        .and_then(|(_, v)| v.parse::<i64>().ok())
}

/// Cuts `rows`, read one beyond `size`, to a page; the cursor of the next (older) page, if
/// there is one.
pub fn older_cursor<R, C>(rows: &mut Vec<R>, size: i64, cursor: impl Fn(&R) -> C) -> Option<C> {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if rows.len() <= size {
        return None;
    }
    rows.truncate(size);
    rows.last().map(cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_pages_and_reads_a_jump() {
        assert_eq!(page_count(0, 50), 1);
        assert_eq!(page_count(50, 50), 1);
        assert_eq!(page_count(51, 50), 2);
        let pager = Pager::history(120, 70, 50, "/x".into());
        assert_eq!((pager.page, pager.pages, pager.has_next()), (2, 3, true));
        assert_eq!(Pager::history(120, 20, 50, "/x".into()).page, 3);
        assert_eq!(
            requested_page(Some("sort=name&page=3"), 3).ok(),
            Some(Some(3))
        );
        assert_eq!(requested_page(Some("sort=name"), 3).ok(), Some(None));
        for bad in ["page=4", "page=0", "page=x", "page="] {
            let Err(UiError::Status(_, why)) = requested_page(Some(bad), 3) else {
                panic!("{bad} is refused");
            };
            assert!(why.starts_with("page: ") && why.contains("1 to 3"), "{why}");
        }
    }

    #[test]
    fn reads_before_and_cuts_a_page() {
        assert_eq!(before_cursor(Some("x=1&before=42")), Some(42));
        assert_eq!(before_cursor(Some("before=x")), None);
        assert_eq!(before_cursor(None), None);
        let mut rows = vec![9, 8, 7];
        assert_eq!(older_cursor(&mut rows, 2, |r| *r), Some(8));
        assert_eq!(rows, [9, 8]);
        assert_eq!(older_cursor(&mut rows, 2, |r| *r), None);
    }
}
