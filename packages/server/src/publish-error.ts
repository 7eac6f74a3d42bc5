/**
 * Why {@link TidewireServer.publish} refused an event. `unavailable`: the engine could not
 * store it (its `cause` says why); the event was not published, and may be published again.
 */
export type PublishErrorCode =
  | 'invalid_channel'
  | 'bad_request'
  | 'too_large'
  | 'shutting_down'
  | 'unavailable';

/**
 * The rejection of `publish()` on the server object when the event cannot be accepted.
 * @example
 * try { await tw.publish(name, data) } catch (e) { if (isPublishError(e) && e.code === 'too_large') shrink() }
 */
export class PublishError extends Error {
  override name = 'PublishError' as const;
  /** Why the event was refused. */
  readonly code: PublishErrorCode;

  /** An error for `code`, with a message that says what was wrong, and its cause if any. */
  constructor(code: PublishErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True for a {@link PublishError}, also one from another copy of this package. */
export function isPublishError(error: unknown): error is PublishError {
  return error instanceof Error && error.name === 'PublishError' && 'code' in error;
}
