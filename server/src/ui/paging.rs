//! Newest-first history pages (changes, health events): the `before` cursor a page is
//! asked with, and the one its "Older" link carries.

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
