/**
 * Money in micros: integer millionths of the currency's unit, as the API stores it. Display
 * respects the currency's minor unit (ISO 4217: JPY has none, KWD has three, most have two),
 * mirroring `orchestrate/platforms/money.rs`. Sums are only ever taken within one currency.
 */

export const MICROS_PER_UNIT = 1_000_000;

/** ISO 4217 currencies without a minor unit in use (money.rs ZERO_DECIMALS). */
const ZERO_DECIMALS = new Set([
  'BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND',
  'VUV', 'XAF', 'XOF', 'XPF',
]);
/** ISO 4217 currencies with thousandths (money.rs THREE_DECIMALS). */
const THREE_DECIMALS = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

/** Digits after the decimal point for a currency code (any case). */
export function minorUnitDigits(currency: string): number {
  const code = currency.trim().toUpperCase();
  if (ZERO_DECIMALS.has(code)) return 0;
  if (THREE_DECIMALS.has(code)) return 3;
  return 2;
}

/**
 * Micros as an exact decimal string with the currency's digits, rounded half away from zero:
 * (1_234_567, "USD") -> "1.23", (5_000_500_000, "JPY") -> "5001".
 */
export function microsToDecimal(micros: number, currency: string): string {
  if (!Number.isFinite(micros)) return '0';
  const digits = minorUnitDigits(currency);
  const negative = micros < 0;
  const abs = BigInt(Math.round(Math.abs(micros)));
  const perMinor = 10n ** BigInt(6 - digits);
  let minor = abs / perMinor;
  if ((abs % perMinor) * 2n >= perMinor) minor += 1n;
  const text = minor.toString().padStart(digits + 1, '0');
  const whole = digits === 0 ? text : text.slice(0, -digits);
  const fraction = digits === 0 ? '' : `.${text.slice(-digits)}`;
  const sign = negative && minor !== 0n ? '-' : '';
  return `${sign}${whole}${fraction}`;
}

/**
 * A decimal string in currency units ("12.5", "-3", "1,000.25" is refused) as integer micros;
 * null when it is not a number with at most 6 decimals.
 */
export function decimalToMicros(text: string): number | null {
  const match = /^\s*(-)?(\d+)(?:\.(\d{1,6}))?\s*$/.exec(text);
  if (!match) return null;
  const [, minus, whole, fraction = ''] = match;
  const micros = BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0') || '0');
  const value = Number(minus ? -micros : micros);
  return Number.isSafeInteger(value) ? value : null;
}

const formatters = new Map<string, Intl.NumberFormat>();

function formatter(currency: string, locale: string): Intl.NumberFormat {
  const key = `${locale}|${currency}`;
  let f = formatters.get(key);
  if (!f) {
    const digits = minorUnitDigits(currency);
    try {
      f = new Intl.NumberFormat(locale, {
        style: 'currency',
        currency: currency.toUpperCase(),
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });
    } catch {
      f = new Intl.NumberFormat(locale, {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });
    }
    formatters.set(key, f);
  }
  return f;
}

/** Micros for people: (1_500_000, "USD") -> "$1.50"; (1_500_000_000, "JPY") -> "¥1,500". */
export function formatMoney(micros: number | null | undefined, currency: string, locale = 'en-US'): string {
  if (micros === null || micros === undefined || !Number.isFinite(micros)) return '—';
  const decimal = microsToDecimal(micros, currency);
  // Intl formats a decimal string exactly (no float rounding on the way).
  const f = formatter(currency, locale) as Intl.NumberFormat & {
    format(value: number | bigint | string): string;
  };
  return f.format(decimal as unknown as number);
}

/** A decimal string from the API ("50.25") for people, in its currency. */
export function formatUnits(units: string | null | undefined, currency: string, locale = 'en-US'): string {
  if (units === null || units === undefined) return '—';
  const micros = decimalToMicros(units);
  return micros === null ? units : formatMoney(micros, currency, locale);
}

/** Sums of micros per currency code; amounts in different currencies are never added. */
export class MoneyByCurrency {
  private readonly totals = new Map<string, number>();

  add(currency: string, micros: number): void {
    const code = currency.toUpperCase();
    this.totals.set(code, (this.totals.get(code) ?? 0) + micros);
  }

  get(currency: string): number {
    return this.totals.get(currency.toUpperCase()) ?? 0;
  }

  currencies(): string[] {
    return [...this.totals.keys()].sort();
  }
}
