/** Times leave the API as ISO-8601 UTC strings. */
export function iso(d: Date): string;
export function iso(d: Date | null | undefined): string | null;
export function iso(d: Date | null | undefined): string | null {
  return d ? new Date(d).toISOString() : null;
}
