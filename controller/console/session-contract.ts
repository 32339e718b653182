/**
 * What the console's browser code and the controller agree on about a console session: the
 * session as GET/POST /api/v1/console/session return it, and the header that carries its CSRF
 * token on writes. No imports, so the browser bundle (controller/console/web) can import it too.
 */
export const CSRF_HEADER = 'x-switchboard-csrf';

export interface ConsoleSession {
  subject: string;
  roles: string[];
  csrf: string;
  /** Unix seconds: this console token's expiry. */
  expiresAt: number;
  /** Unix seconds: the whole sign-in's end. */
  sessionEndsAt: number;
  signedInWith: 'admin-token' | 'oidc';
  idp?: string;
}
