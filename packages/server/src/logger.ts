/**
 * Where the server reports problems that are not the client's business: hook
 * failures and dropped connections. Messages and details never contain tokens.
 */
export interface Logger {
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}
