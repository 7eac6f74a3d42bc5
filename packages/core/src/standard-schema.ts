/**
 * The Standard Schema interface (version 1): what Zod, Valibot, ArkType and other validator
 * libraries implement, so that Tidewire validates with any of them without depending on one.
 * Declared here from the specification at https://standardschema.dev.
 * @module
 */

/** A validator that implements Standard Schema version 1. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The standard's properties, under a key no library uses for its own API. */
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

/** The types that belong to {@link StandardSchemaV1}. */
export declare namespace StandardSchemaV1 {
  /** What a schema exposes under `~standard`. */
  interface Props<Input = unknown, Output = Input> {
    /** The version of the standard: 1. */
    readonly version: 1;
    /** The library that made the schema, e.g. `zod`. */
    readonly vendor: string;
    /** Checks a value: the parsed value, or the issues found (synchronously or not). */
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    /** The input and output types, for inference only. */
    readonly types?: Types<Input, Output> | undefined;
  }

  /** The outcome of `validate`. */
  type Result<Output> = SuccessResult<Output> | FailureResult;

  /** A valid value, as the schema outputs it (it may differ from the input: defaults, transforms). */
  interface SuccessResult<Output> {
    /** The parsed value. */
    readonly value: Output;
    /** Absent on success. */
    readonly issues?: undefined;
  }

  /** An invalid value. */
  interface FailureResult {
    /** What is wrong, at least one issue. */
    readonly issues: ReadonlyArray<Issue>;
  }

  /** One thing wrong with a value. */
  interface Issue {
    /** What is wrong, in words. */
    readonly message: string;
    /** Where in the value, from its root. */
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }

  /** A step of an issue's path that carries more than its key. */
  interface PathSegment {
    /** The key of the step. */
    readonly key: PropertyKey;
  }

  /** The input and output types of a schema. */
  interface Types<Input = unknown, Output = Input> {
    /** What the schema accepts. */
    readonly input: Input;
    /** What the schema gives back. */
    readonly output: Output;
  }

  /** The input type of a schema. */
  type InferInput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['input'];

  /** The output type of a schema. */
  type InferOutput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['output'];
}
