//! Keyset pagination shared by the listing routes: `limit` checked against the route's range,
//! and an opaque cursor `"{created_at}_{id}"` naming the last row of the page before (rows are
//! listed newest first, so the next page is everything before that key).

use super::ApiError;

/// `given` (or `default`) when it lies in `1..=max`, else a 400 naming the field and the range.
pub fn limit(given: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    let limit = given.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: {limit} is outside 1..={max}"
        )));
    }
    Ok(limit)
}

/// The `(created_at, id)` key a cursor names; a 400 for anything this server did not hand out.
pub fn cursor(given: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
    given
        .map(|c| {
            c.split_once('_')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| ApiError::bad_request("cursor: not a cursor this server handed out"))
        })
        .transpose()
}

/// Cuts `rows` (fetched with `limit + 1`) to the page and returns the cursor of the next page,
/// if there is one; `key` gives a row's `(created_at, id)`.
pub fn next_cursor<T>(
    rows: &mut Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (i64, &str),
) -> Option<String> {
    if rows.len() as i64 <= limit {
        return None;
    }
    rows.truncate(limit as usize);
    rows.last().map(|row| {
        let (at, id) = key(row);
        format!("{at}_{id}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        let mut rows = vec![(3, "c"), (2, "b"), (1, "a")];
        let next = next_cursor(&mut rows, 2, |r| (r.0, r.1)).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(cursor(Some(&next)).unwrap(), Some((2, "b".to_string())));
        let mut short = vec![(1, "a")];
        assert_eq!(next_cursor(&mut short, 2, |r| (r.0, r.1)), None);
        assert!(cursor(Some("nope")).is_err());
        assert_eq!(cursor(None).unwrap(), None);
        assert!(limit(Some(0), 20, 100).is_err());
        assert!(limit(Some(101), 20, 100).is_err());
        assert_eq!(limit(None, 20, 100).unwrap(), 20);
    }
}
