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
