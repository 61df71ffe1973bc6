/** Turning a user's `--since` into what `_since` needs. */

/**
 * `_since` must be a FHIR instant (strict servers reject a bare date). A date or a time without
 * a zone becomes the EARLIEST instant it can mean (zone +14:00), so nothing changed on that day
 * anywhere is missed; an instant is kept as given.
 */
export function sinceInstant(value: string): string {
  const m =
    /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$/
      .exec(value);
  if (!m) return value;
  const [, year, month = "01", day = "01", time, zone] = m;
  if (time && zone) return value;
  const clock = time ? (time.length === 6 ? `${time}:00` : time) : "T00:00:00";
  return `${year}-${month}-${day}${clock}+14:00`;
}
