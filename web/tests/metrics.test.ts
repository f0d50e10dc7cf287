import { describe, expect, it } from 'vitest';
import { addTotals, cpaMicros, ctr, derived, emptyTotals, formatCount, formatPercent, formatRoas, ratio, roas } from '@/lib/metrics';

describe('ratios with zero denominators', () => {
  it('gives null rather than Infinity or NaN', () => {
    expect(ctr(5, 0)).toBeNull();
    expect(ctr(0, 0)).toBeNull();
    expect(cpaMicros(10_000_000, 0)).toBeNull();
    expect(roas(5_000_000, 0)).toBeNull();
    expect(ratio(1, Number.NaN)).toBeNull();
    expect(ratio(Number.POSITIVE_INFINITY, 1)).toBeNull();
    expect(ratio(1, -2)).toBeNull();
  });

  it('computes the ratios otherwise', () => {
    expect(ctr(25, 1000)).toBeCloseTo(0.025);
    expect(ctr(0, 1000)).toBe(0);
    expect(cpaMicros(10_000_000, 4)).toBe(2_500_000);
    expect(cpaMicros(10_000_000, 3)).toBe(3_333_333);
    expect(cpaMicros(10_000_000, 0.5)).toBe(20_000_000);
    expect(roas(30_000_000, 10_000_000)).toBe(3);
    expect(roas(0, 10_000_000)).toBe(0);
  });

  it('derives from totals', () => {
    const t = addTotals(emptyTotals(), { impressions: 1000, clicks: 20, spendMicros: 8_000_000, conversions: 2, revenueMicros: 24_000_000 });
    addTotals(t, { impressions: 0, clicks: 0, spendMicros: 0, conversions: 0, revenueMicros: 0 });
    expect(derived(t)).toEqual({ ctr: 0.02, cpaMicros: 4_000_000, roas: 3 });
    expect(derived(emptyTotals())).toEqual({ ctr: null, cpaMicros: null, roas: null });
  });
});

describe('display', () => {
  it('formats percentages, ROAS and counts, with a dash for none', () => {
    expect(formatPercent(0.01234)).toBe('1.23%');
    expect(formatPercent(null)).toBe('—');
    expect(formatRoas(2.5)).toBe('2.50×');
    expect(formatRoas(null)).toBe('—');
    expect(formatCount(12345)).toBe('12,345');
    expect(formatCount(2.456)).toBe('2.46');
    expect(formatCount(undefined)).toBe('—');
  });
});
