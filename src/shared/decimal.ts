import { UnprocessableError } from './errors.ts';

/**
 * Exact arithmetic on the decimal strings the clouds bill in: never through a float sum.
 */

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/;

/** A decimal string as [digits, scale]: "-12.3400" is [-123400n, 4]. Accepts an exponent ("1.5E-7") as well. */
export function scaled(amount: string): [bigint, number] {
  const m = DECIMAL.exec(amount);
  const whole = m?.[2] ?? '';
  const fraction = m?.[3] ?? '';
  if (!m || whole.length + fraction.length === 0) {
    throw new UnprocessableError(`The cloud answered a cost amount that is not a decimal number: '${amount.slice(0, 40)}'`);
  }
  let digits = whole + fraction;
  let scale = fraction.length - Number(m[4] ?? 0);
  if (scale < 0) {
    digits += '0'.repeat(-scale);
    scale = 0;
  }
  const value = BigInt(digits);
  return [m[1] === '-' ? -value : value, scale];
}

/** [digits, scale] back to a decimal string: [-123400n, 4] is "-12.3400". */
export function format(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  return `${negative ? '-' : ''}${whole}${scale > 0 ? `.${digits.slice(digits.length - scale)}` : ''}`;
}

/** Fractional digits of a stored amount (numeric(24, 10)). */
export const STORED_SCALE = 10;
const UNIT = 10 ** STORED_SCALE;
const POWERS = Array.from({ length: STORED_SCALE + 1 }, (_, i) => 10 ** i);
/** Plain decimals whose parts are exact as doubles: up to 15 integer and 10 fractional digits. */
const PLAIN = /^-?\d{1,15}(?:\.\d{1,10})?$/;
/** Past this, a running part moves into the BigInt total (every part stays below 2^53, so exact). */
const SPILL = 1e15;

/**
 * A running sum of amounts, each first rounded to STORED_SCALE digits half away from zero as PostgreSQL rounds it
 * into numeric(24, 10), so the sum equals what `sum(amount)` over the stored rows answers. Plain amounts add up as
 * two integer doubles (whole units and 1e-10 units); anything else goes through BigInt.
 */
export class DecimalSum {
  private units = 0;
  private fraction = 0;
  private big = 0n;

  add(amount: string): void {
    if (!PLAIN.test(amount)) {
      this.big += rounded(amount);
      return;
    }
    const negative = amount.charCodeAt(0) === 45;
    const dot = amount.indexOf('.');
    const whole = Number(amount.slice(negative ? 1 : 0, dot < 0 ? amount.length : dot));
    const fraction = dot < 0 ? 0 : Number(amount.slice(dot + 1)) * POWERS[STORED_SCALE - (amount.length - dot - 1)]!;
    if (negative) {
      this.units -= whole;
      this.fraction -= fraction;
    } else {
      this.units += whole;
      this.fraction += fraction;
    }
    if (Math.abs(this.units) > SPILL || Math.abs(this.fraction) > SPILL) this.spill();
  }

  /** The sum as a decimal string with STORED_SCALE fractional digits. */
  toString(): string {
    this.spill();
    return format(this.big, STORED_SCALE);
  }

  private spill(): void {
    this.big += BigInt(this.units) * BigInt(UNIT) + BigInt(this.fraction);
    this.units = 0;
    this.fraction = 0;
  }
}

/** An amount in 1e-10 units, rounded half away from zero. */
function rounded(amount: string): bigint {
  const [value, scale] = scaled(amount);
  if (scale <= STORED_SCALE) return value * 10n ** BigInt(STORED_SCALE - scale);
  const divisor = 10n ** BigInt(scale - STORED_SCALE);
  const quotient = value / divisor;
  const remainder = value % divisor;
  const magnitude = remainder < 0n ? -remainder : remainder;
  if (magnitude * 2n < divisor) return quotient;
  return value < 0n ? quotient - 1n : quotient + 1n;
}
