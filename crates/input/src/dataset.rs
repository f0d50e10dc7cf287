//! The dataset a marketing-mix model is fitted to: one row per period (a day or a week), the
//! response (revenue or conversions) and each paid channel's spend, from CSV text or JSON rows.
//! Everything a fit cannot use is refused here, naming the field and the problem.

use serde::{Deserialize, Serialize};
use time::Date;
use time::format_description::well_known::Iso8601;

use crate::FieldError as AnalyticsError;

/// Which columns hold what.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// The period's first day, `YYYY-MM-DD`.
    #[serde(default = "default_date_column")]
    pub date: String,
    /// The response the media drive (revenue, or conversions).
    pub response: String,
    /// One spend column per paid channel.
    pub channels: Vec<String>,
}

fn default_date_column() -> String {
    "date".into()
}

/// One paid channel's spend per period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Channel {
    pub name: String,
    pub spend: Vec<f64>,
}

/// Validated input of a fit: evenly spaced dates, finite values, spend that moves.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub dates: Vec<Date>,
    /// Days between consecutive rows: 7 for weekly data, 1 for daily.
    pub step_days: i64,
    pub response: Vec<f64>,
    pub channels: Vec<Channel>,
    /// Holiday dates; a period containing one gets the holiday regressor.
    pub holidays: Vec<Date>,
}

/// The most rows and channels a fit accepts: enough for ten years of weeks or three of days.
pub const MAX_ROWS: usize = 1100;
pub const MAX_CHANNELS: usize = 20;

pub fn parse_date(field: &str, text: &str) -> Result<Date, AnalyticsError> {
    Date::parse(text.trim(), &Iso8601::DATE).map_err(|_| {
        AnalyticsError::new(field, format!("`{text}` is not a date in YYYY-MM-DD form"))
    })
}

fn parse_number(field: &str, text: &str) -> Result<f64, AnalyticsError> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| AnalyticsError::new(field, format!("`{text}` is not a number")))?;
    finite(field, value)
}

fn finite(field: &str, value: f64) -> Result<f64, AnalyticsError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(AnalyticsError::new(field, "must be a finite number"))
    }
}

impl Dataset {
    /// CSV with a header row naming the columns (others are ignored).
    pub fn from_csv(
        text: &str,
        columns: &Columns,
        holidays: &[String],
    ) -> Result<Self, AnalyticsError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .map_err(|e| AnalyticsError::new("data.csv", format!("unreadable header: {e}")))?
            .clone();
        let index = |name: &str, field: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                AnalyticsError::new(field, format!("no column `{name}` in the CSV header"))
            })
        };
        let date_at = index(&columns.date, "columns.date")?;
        let response_at = index(&columns.response, "columns.response")?;
        let channel_at = columns
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| index(c, &format!("columns.channels[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rows = RowsBuilder::new(columns);
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = record
                .map_err(|e| AnalyticsError::new(format!("data.csv line {line}"), e.to_string()))?;
            let cell = |at: usize| record.get(at).unwrap_or("");
            let field = |column: &str| format!("data.csv line {line}, column {column}");
            rows.push(
                parse_date(&field(&columns.date), cell(date_at))?,
                parse_number(&field(&columns.response), cell(response_at))?,
                channel_at
                    .iter()
                    .zip(&columns.channels)
                    .map(|(&at, name)| parse_number(&field(name), cell(at)))
                    .collect::<Result<Vec<_>, _>>()?,
            )?;
        }
        rows.finish(holidays)
    }

    /// JSON rows: objects with the date as a string and numbers for the rest.
    pub fn from_rows(
        rows: &[serde_json::Map<String, serde_json::Value>],
        columns: &Columns,
        holidays: &[String],
    ) -> Result<Self, AnalyticsError> {
        let mut builder = RowsBuilder::new(columns);
        for (i, row) in rows.iter().enumerate() {
            let field = |column: &str| format!("data.rows[{i}].{column}");
            let date = row
                .get(&columns.date)
                .and_then(|v| v.as_str())
                .ok_or_else(|| {
                    AnalyticsError::new(field(&columns.date), "required, a YYYY-MM-DD string")
                })?;
            let number = |column: &str| {
                let value = row.get(column).and_then(|v| v.as_f64()).ok_or_else(|| {
                    AnalyticsError::new(field(column), "required, a finite number")
                })?;
                finite(&field(column), value)
            };
            builder.push(
                parse_date(&field(&columns.date), date)?,
                number(&columns.response)?,
                columns
                    .channels
                    .iter()
                    .map(|c| number(c))
                    .collect::<Result<Vec<_>, _>>()?,
            )?;
        }
        builder.finish(holidays)
    }

    pub fn len(&self) -> usize {
        self.dates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// Periods per year, for the yearly Fourier terms.
    pub fn periods_per_year(&self) -> f64 {
        365.25 / self.step_days as f64
    }
}

struct RowsBuilder<'a> {
    columns: &'a Columns,
    dates: Vec<Date>,
    response: Vec<f64>,
    spend: Vec<Vec<f64>>,
}

impl<'a> RowsBuilder<'a> {
    fn new(columns: &'a Columns) -> Self {
        Self {
            columns,
            dates: Vec::new(),
            response: Vec::new(),
            spend: vec![Vec::new(); columns.channels.len()],
        }
    }

    fn push(&mut self, date: Date, response: f64, spend: Vec<f64>) -> Result<(), AnalyticsError> {
        let row = self.dates.len();
        if row >= MAX_ROWS {
            return Err(AnalyticsError::new(
                "data",
                format!("more than {MAX_ROWS} rows (the limit)"),
            ));
        }
        if response < 0.0 {
            return Err(AnalyticsError::new(
                format!("data row {row}, column {}", self.columns.response),
                "must not be negative",
            ));
        }
        for (c, &s) in spend.iter().enumerate() {
            if s < 0.0 {
                return Err(AnalyticsError::new(
                    format!("data row {row}, column {}", self.columns.channels[c]),
                    "spend must not be negative",
                ));
            }
            self.spend[c].push(s);
        }
        self.dates.push(date);
        self.response.push(response);
        Ok(())
    }

    fn finish(self, holidays: &[String]) -> Result<Dataset, AnalyticsError> {
        let columns = self.columns;
        if columns.channels.is_empty() {
            return Err(AnalyticsError::new(
                "columns.channels",
                "name at least one spend column",
            ));
        }
        if columns.channels.len() > MAX_CHANNELS {
            return Err(AnalyticsError::new(
                "columns.channels",
                format!("more than {MAX_CHANNELS} channels (the limit)"),
            ));
        }
        for (i, name) in columns.channels.iter().enumerate() {
            if columns.channels[..i].contains(name) || *name == columns.response {
                return Err(AnalyticsError::new(
                    format!("columns.channels[{i}]"),
                    format!("`{name}` is named twice"),
                ));
            }
        }
        let dates = self.dates;
        // Parameters of the smallest model: intercept, trend, 4 seasonal terms, one coefficient
        // and three transform parameters per channel. Fewer rows cannot pin them down.
        let parameters = 6 + 4 * columns.channels.len();
        if dates.len() <= parameters {
            return Err(AnalyticsError::new(
                "data",
                format!(
                    "{} rows for a model of {parameters} parameters ({} channels): give more rows than parameters",
                    dates.len(),
                    columns.channels.len()
                ),
            ));
        }
        let step_days = (dates[1] - dates[0]).whole_days();
        if step_days != 1 && step_days != 7 {
            return Err(AnalyticsError::new(
                "data",
                format!(
                    "rows must be daily or weekly; {} is followed by {}",
                    dates[0], dates[1]
                ),
            ));
        }
        for pair in dates.windows(2) {
            let gap = (pair[1] - pair[0]).whole_days();
            if gap != step_days {
                let problem = if gap > step_days {
                    format!(
                        "missing dates: {} is followed by {} (rows are {} days apart)",
                        pair[0], pair[1], step_days
                    )
                } else {
                    format!(
                        "dates out of order or repeated: {} is followed by {}",
                        pair[0], pair[1]
                    )
                };
                return Err(AnalyticsError::new(columns.date.clone(), problem));
            }
        }
        let channels: Vec<Channel> = columns
            .channels
            .iter()
            .zip(self.spend)
            .map(|(name, spend)| Channel {
                name: name.clone(),
                spend,
            })
            .collect();
        for channel in &channels {
            if channel.spend.iter().all(|&s| s == 0.0) {
                return Err(AnalyticsError::new(
                    channel.name.clone(),
                    "spend is zero throughout: drop the channel, its effect cannot be estimated",
                ));
            }
        }
        let response = self.response;
        if response.iter().all(|&r| r == response[0]) {
            return Err(AnalyticsError::new(
                columns.response.clone(),
                "is the same in every row: there is nothing to explain",
            ));
        }
        let holidays = holidays
            .iter()
            .enumerate()
            .map(|(i, h)| parse_date(&format!("holidays[{i}]"), h))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Dataset {
            dates,
            step_days,
            response,
            channels,
            holidays,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Columns {
        Columns {
            date: "date".into(),
            response: "revenue".into(),
            channels: vec!["tv".into(), "search".into()],
        }
    }

    fn csv(rows: usize, edit: impl Fn(usize, &mut [String; 4])) -> String {
        let start = Date::from_calendar_date(2024, time::Month::January, 1).unwrap();
        let mut text = "date,revenue,tv,search\n".to_string();
        for i in 0..rows {
            let mut row = [
                (start + time::Duration::weeks(i as i64)).to_string(),
                format!("{}", 1000 + i * 7 % 13),
                format!("{}", 100 + i % 5),
                format!("{}", 50 + i % 3),
            ];
            edit(i, &mut row);
            text.push_str(&row.join(","));
            text.push('\n');
        }
        text
    }

    #[test]
    fn reads_weekly_csv() {
        let data = Dataset::from_csv(&csv(20, |_, _| {}), &columns(), &[]).unwrap();
        assert_eq!(data.len(), 20);
        assert_eq!(data.step_days, 7);
        assert_eq!(data.channels[1].name, "search");
        assert_eq!(data.channels[0].spend[3], 103.0);
    }

    #[test]
    fn refuses_what_cannot_be_fitted() {
        let cases: Vec<(String, &str, &str)> = vec![
            (
                csv(20, |i, r| {
                    if i >= 10 {
                        r[0] = (Date::from_calendar_date(2024, time::Month::January, 8).unwrap()
                            + time::Duration::weeks(i as i64))
                        .to_string()
                    }
                }),
                "date",
                "missing dates",
            ),
            (csv(20, |_, r| r[2] = "0".into()), "tv", "zero throughout"),
            (
                csv(20, |i, r| {
                    if i == 4 {
                        r[3] = "NaN".into()
                    }
                }),
                "data.csv line 6, column search",
                "finite",
            ),
            (csv(12, |_, _| {}), "data", "more rows than parameters"),
            (
                csv(20, |i, r| {
                    if i == 2 {
                        r[2] = "-5".into()
                    }
                }),
                "data row 2, column tv",
                "negative",
            ),
        ];
        for (text, field, problem) in cases {
            let e = Dataset::from_csv(&text, &columns(), &[]).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.problem.contains(problem), "{e}");
        }
        let mut missing = columns();
        missing.channels.push("radio".into());
        let e = Dataset::from_csv(&csv(20, |_, _| {}), &missing, &[]).unwrap_err();
        assert_eq!(e.field, "columns.channels[2]");
    }

    #[test]
    fn reads_json_rows_like_csv() {
        let text = csv(20, |_, _| {});
        let from_csv = Dataset::from_csv(&text, &columns(), &["2024-02-14".into()]).unwrap();
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = text
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                serde_json::json!({"date": f[0], "revenue": f[1].parse::<f64>().unwrap(),
                    "tv": f[2].parse::<f64>().unwrap(), "search": f[3].parse::<f64>().unwrap()})
                .as_object()
                .unwrap()
                .clone()
            })
            .collect();
        let from_rows = Dataset::from_rows(&rows, &columns(), &["2024-02-14".into()]).unwrap();
        assert_eq!(from_csv, from_rows);
        let mut bad = rows.clone();
        bad[3].insert("tv".into(), serde_json::json!("x"));
        let e = Dataset::from_rows(&bad, &columns(), &[]).unwrap_err();
        assert_eq!(e.field, "data.rows[3].tv");
    }
}
