/** The names AWS services give an authorization failure (RDS's query API, JSON APIs and EC2-style APIs). */
export const ACCESS_DENIED: ReadonlySet<string> = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'NotAuthorized',
  'UnauthorizedException',
]);
