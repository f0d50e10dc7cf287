import { describe, expect, it } from 'vitest';
import { MoneyByCurrency, decimalToMicros, formatMoney, formatUnits, microsToDecimal, minorUnitDigits } from '@/lib/money';

describe('minor units', () => {
  it('follows ISO 4217 as money.rs does', () => {
    expect(minorUnitDigits('USD')).toBe(2);
    expect(minorUnitDigits('eur')).toBe(2);
    expect(minorUnitDigits('JPY')).toBe(0);
    expect(minorUnitDigits('KRW')).toBe(0);
    expect(minorUnitDigits('KWD')).toBe(3);
    expect(minorUnitDigits('BHD')).toBe(3);
  });
});

describe('microsToDecimal', () => {
  it('keeps the currency digits and rounds half away from zero', () => {
    expect(microsToDecimal(1_234_567, 'USD')).toBe('1.23');
    expect(microsToDecimal(1_235_000, 'USD')).toBe('1.24');
    expect(microsToDecimal(1_234_999, 'USD')).toBe('1.23');
    expect(microsToDecimal(5_000_500_000, 'JPY')).toBe('5001');
    expect(microsToDecimal(5_000_499_999, 'JPY')).toBe('5000');
    expect(microsToDecimal(1_234_567, 'KWD')).toBe('1.235');
    expect(microsToDecimal(0, 'USD')).toBe('0.00');
    expect(microsToDecimal(50_000, 'USD')).toBe('0.05');
    expect(microsToDecimal(-2_500_000, 'USD')).toBe('-2.50');
    expect(microsToDecimal(-4_000, 'USD')).toBe('0.00');
  });

  it('is exact for large amounts', () => {
    expect(microsToDecimal(9_007_199_254_740_991, 'USD')).toBe('9007199254.74');
  });
});

describe('decimalToMicros', () => {
  it('parses decimal strings exactly', () => {
    expect(decimalToMicros('50.25')).toBe(50_250_000);
    expect(decimalToMicros('5000')).toBe(5_000_000_000);
    expect(decimalToMicros('0.000001')).toBe(1);
    expect(decimalToMicros('-3.5')).toBe(-3_500_000);
    expect(decimalToMicros(' 7 ')).toBe(7_000_000);
  });

  it('refuses what is not a plain decimal', () => {
    expect(decimalToMicros('1,000.25')).toBeNull();
    expect(decimalToMicros('1.0000001')).toBeNull();
    expect(decimalToMicros('abc')).toBeNull();
    expect(decimalToMicros('')).toBeNull();
  });
});

describe('formatMoney', () => {
  it('shows the currency with its digits', () => {
    expect(formatMoney(1_500_000, 'USD')).toBe('$1.50');
    expect(formatMoney(1_500_000_000, 'JPY')).toBe('¥1,500');
    expect(formatMoney(1_234_567_890, 'USD')).toBe('$1,234.57');
    expect(formatMoney(1_234_567, 'KWD')).toMatch(/KWD\s?1\.235/);
    expect(formatMoney(2_000_000, 'EUR', 'de-DE')).toMatch(/2,00\s?€/);
  });

  it('shows a dash for no value', () => {
    expect(formatMoney(null, 'USD')).toBe('—');
    expect(formatMoney(undefined, 'USD')).toBe('—');
    expect(formatMoney(Number.NaN, 'USD')).toBe('—');
  });

  it('formats the API decimal strings', () => {
    expect(formatUnits('50.25', 'USD')).toBe('$50.25');
    expect(formatUnits('5000', 'JPY')).toBe('¥5,000');
    expect(formatUnits(null, 'USD')).toBe('—');
  });

  it('never adds amounts across currencies', () => {
    const sums = new MoneyByCurrency();
    sums.add('USD', 1_000_000);
    sums.add('usd', 2_000_000);
    sums.add('JPY', 500_000_000);
    expect(sums.currencies()).toEqual(['JPY', 'USD']);
    expect(sums.get('USD')).toBe(3_000_000);
    expect(sums.get('JPY')).toBe(500_000_000);
    expect(sums.get('EUR')).toBe(0);
  });
});
