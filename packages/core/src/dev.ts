declare const __DEV__: boolean | undefined;

/**
 * True in the development build, which adds to every error a sentence saying what to do,
 * checks the options when a client is created, and logs every decision. Bundlers pick it by
 * the `development` export condition, Node by `node`; the script-tag build is
 * `tidewire.development.js`. The production build (the default condition, `tidewire.min.js`)
 * is built with this false, and everything it guards is left out.
 * @internal
 */
export const DEV: boolean = typeof __DEV__ !== 'boolean' || __DEV__;
