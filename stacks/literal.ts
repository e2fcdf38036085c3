export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * Makes a user's string literal for both readers of it. Terraform JSON reads every string as a template: a literal
 * `${` or `%{` (a spec, user data) would be evaluated, so they are doubled.
 * https://developer.hashicorp.com/terraform/language/expressions/strings#escape-sequences
 * cdktf, before that, reads `${TfToken[…]}`, `#{TfToken[…]}` and `&{TfToken[…]}` in any string as references to its
 * own tokens (a spec holding `#{TfToken[TOKEN.3]}` came out as another resource's attribute), and doubling `${`
 * leaves `${TfToken[` inside `$${TfToken[`. So every `TfToken[` is written as a template that yields that very text,
 * `${"TfToken["}`: no token marker survives for cdktf, and terraform reads back exactly what the user wrote.
 */
export function literal(value: string): string {
  // A function replacement: in a replacement string `$$` would itself collapse to `$`.
  return value
    .replaceAll('${', () => '$${')
    .replaceAll('%{', () => '%%{')
    .replaceAll('TfToken[', () => '${"TfToken["}');
}

/**
 * cdktf also encodes tokens as numbers: doubles whose top 16 bits are 0xfdff or 0xfbff (about -1e289 and beyond).
 * No real setting is that large, so a user's number of that size is refused instead of being read as a reference.
 */
export const MAX_LITERAL_NUMBER = 1e280;

/** `literal` over every string (keys included) of a JSON value; anything else is returned as it is. */
export function literalJson(value: Json): Json {
  if (typeof value === 'string') return literal(value);
  if (typeof value === 'number' && !(Math.abs(value) < MAX_LITERAL_NUMBER)) {
    throw new RangeError(`numbers must be within ±${MAX_LITERAL_NUMBER} (cdktf reads larger ones as references)`);
  }
  if (Array.isArray(value)) return value.map(literalJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [literal(k), literalJson(v)]));
  }
  return value;
}
