/** HTTP Basic and static Bearer authentication. */

import type { Authorizer } from "../http/types.ts";

/** `Authorization: Basic base64(user:password)` (UTF-8). */
export function basicAuth(user: string, password: string): Authorizer {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  const header = `Basic ${btoa(String.fromCharCode(...bytes))}`;
  return {
    active: true,
    renewable: false,
    headers: () => Promise.resolve({ Authorization: header }),
    invalidate() {},
  };
}

/** A static `Authorization: Bearer <token>`. A 401 cannot renew it, so it fails clearly. */
export function bearerAuth(token: string): Authorizer {
  const header = `Bearer ${token}`;
  return {
    active: true,
    renewable: false,
    headers: () => Promise.resolve({ Authorization: header }),
    invalidate() {},
  };
}
