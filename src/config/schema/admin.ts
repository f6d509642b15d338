// The admin listener's settings (`adminListen` itself is a top-level key).
/** Below this a token is guessable; the same floor as routing secrets. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

export const adminSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    // A file whose first line is the bearer token operator actions (POST /failback) need.
    // Without it every such request is refused; reads (/metrics, /status, ...) need no token.
    tokenFile: { type: 'string', minLength: 1 },
  },
} as const;

/** The token on the file's first line (without the newline editors add). */
export function adminTokenOf(text: string): string {
  return text.split(/\r?\n/)[0].trim();
}

/** The problem with a token read from admin.tokenFile, if any. */
export function adminTokenProblems(token: string): string[] {
  if (token.length < MIN_ADMIN_TOKEN_LENGTH || /\s/.test(token)) {
    return [`admin.tokenFile: the token on its first line must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters without spaces`];
  }
  return [];
}
