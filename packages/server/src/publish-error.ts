/** Why {@link TidewireServer.publish} refused an event. */
export type PublishErrorCode = 'invalid_channel' | 'bad_request' | 'too_large' | 'shutting_down';

/**
 * Thrown by `publish()` on the server object when the event cannot be accepted.
 * @example
 * try { tw.publish(name, data) } catch (e) { if (isPublishError(e) && e.code === 'too_large') shrink() }
 */
export class PublishError extends Error {
  override name = 'PublishError' as const;
  /** Why the event was refused. */
  readonly code: PublishErrorCode;

  /** An error for `code`, with a message that says what was wrong. */
  constructor(code: PublishErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** True for a {@link PublishError}, also one from another copy of this package. */
export function isPublishError(error: unknown): error is PublishError {
  return error instanceof Error && error.name === 'PublishError' && 'code' in error;
}
