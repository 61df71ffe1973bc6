/**
 * The error a bad search or `_typeFilter` raises; answered with a 400 OperationOutcome.
 *
 * @module
 */

/** A bad query: unknown parameter or unusable value. */
export class SearchError extends Error {
  /** The offending parameter's name. */
  readonly param: string;
  constructor(message: string, param: string) {
    super(message);
    this.param = param;
  }
}
