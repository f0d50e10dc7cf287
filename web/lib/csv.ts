/** Just enough CSV for choosing a marketing-mix dataset's columns: the header and numeric columns. */

/** Splits one CSV line, honouring double quotes ("a,b" and "" escapes). */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      cells.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  cells.push(cell.trim());
  return cells;
}

export interface CsvSummary {
  header: string[];
  rows: number;
  /** Columns whose every non-empty cell in the sample is a number. */
  numeric: string[];
  /** A column whose cells look like YYYY-MM-DD dates. */
  dateColumn: string | null;
}

export function summarizeCsv(text: string, sample = 50): CsvSummary {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return { header: [], rows: 0, numeric: [], dateColumn: null };
  const header = splitCsvLine(lines[0]);
  const body = lines.slice(1, 1 + sample).map(splitCsvLine);
  const isNumber = (s: string) => s !== '' && Number.isFinite(Number(s));
  const numeric = header.filter((_, i) => body.length > 0 && body.every((r) => r[i] === undefined || r[i] === '' || isNumber(r[i])));
  const dateColumn = header.find((_, i) => body.length > 0 && body.every((r) => /^\d{4}-\d{2}-\d{2}$/.test(r[i] ?? ''))) ?? null;
  return { header, rows: lines.length - 1, numeric, dateColumn };
}

/** A guess at the response column: revenue, sales or conversions by name, else the first numeric. */
export function guessResponse(numeric: string[]): string | null {
  return numeric.find((c) => /revenue|sales|conversions|response|kpi/i.test(c)) ?? numeric[0] ?? null;
}

/** Rows a marketing-mix dataset may have (`MAX_ROWS` in crates/input/src/dataset.rs). */
export const MAX_MMM_ROWS = 1100;

/**
 * Why a CSV cannot be fitted, in words and naming the field (`data: ...`), or null when the
 * page sees nothing wrong (the server still checks every row). `maxBytes` is the page's
 * known limit on the file's size.
 */
export function csvProblem(text: string, bytes: number, maxBytes: number, formatBytes: (n: number) => string): string | null {
  if (bytes > maxBytes) return `data: the file is ${formatBytes(bytes)}; at most ${formatBytes(maxBytes)} fits in one fit (the server's limit on a job)`;
  if (text.trim() === '') return 'data: the file is empty';
  if (/\u0000/.test(text.slice(0, 4096))) return 'data: this is not a text file; save the sheet as CSV (comma-separated values)';
  const s = summarizeCsv(text);
  if (s.header.length < 2) return 'data: only one column found; the first line must name the columns, separated by commas (date, the response, one spend column per channel)';
  if (s.rows === 0) return 'data: the file has a header line but no data rows';
  if (s.rows > MAX_MMM_ROWS) return `data: ${s.rows.toLocaleString('en-US')} rows; at most ${MAX_MMM_ROWS.toLocaleString('en-US')} are fitted`;
  if (!s.dateColumn) return 'data: no column holds dates in YYYY-MM-DD form on every row (one row per day or week)';
  const numeric = s.numeric.filter((c) => c !== s.dateColumn);
  if (numeric.length === 0) return 'data: no column holds only numbers; the response (revenue or conversions) and each channel’s spend must be numbers';
  if (numeric.length === 1) return `data: only one numeric column (${numeric[0]}); a response column and at least one spend column are needed`;
  return null;
}
