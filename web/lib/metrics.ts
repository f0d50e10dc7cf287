/**
 * Ratios of delivery counts, as `GET /api/campaigns/{id}/report` computes them: a zero
 * denominator gives null (shown as a dash), never Infinity or NaN.
 */

/** a / b, or null when b is zero, negative or not finite. */
export function ratio(a: number, b: number): number | null {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return null;
  return a / b;
}

/** Click-through rate: clicks per impression. */
export function ctr(clicks: number, impressions: number): number | null {
  return ratio(clicks, impressions);
}

/** Cost per acquisition in micros: spend per conversion. */
export function cpaMicros(spendMicros: number, conversions: number): number | null {
  const value = ratio(spendMicros, conversions);
  return value === null ? null : Math.round(value);
}

/** Return on ad spend: revenue per unit of spend (same currency). */
export function roas(revenueMicros: number, spendMicros: number): number | null {
  return ratio(revenueMicros, spendMicros);
}

/** 0.01234 -> "1.23%"; null -> "—". */
export function formatPercent(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${(value * 100).toFixed(digits)}%`;
}

/** 2.5 -> "2.50×"; null -> "—". */
export function formatRoas(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${value.toFixed(2)}×`;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** Counts for people: 12345 -> "12,345"; fractional conversions keep two digits. */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return Number.isInteger(value) ? integer.format(value) : decimal.format(value);
}

/** Delivery totals of one campaign (or a group of campaigns in one currency). */
export interface DeliveryTotals {
  impressions: number;
  clicks: number;
  spendMicros: number;
  conversions: number;
  revenueMicros: number;
}

export function emptyTotals(): DeliveryTotals {
  return { impressions: 0, clicks: 0, spendMicros: 0, conversions: 0, revenueMicros: 0 };
}

export function addTotals(into: DeliveryTotals, t: DeliveryTotals): DeliveryTotals {
  into.impressions += t.impressions;
  into.clicks += t.clicks;
  into.spendMicros += t.spendMicros;
  into.conversions += t.conversions;
  into.revenueMicros += t.revenueMicros;
  return into;
}

/** CTR, CPA (micros) and ROAS of totals. */
export function derived(t: DeliveryTotals): { ctr: number | null; cpaMicros: number | null; roas: number | null } {
  return {
    ctr: ctr(t.clicks, t.impressions),
    cpaMicros: cpaMicros(t.spendMicros, t.conversions),
    roas: roas(t.revenueMicros, t.spendMicros),
  };
}
