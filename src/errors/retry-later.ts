// A refusal that tells the client when to come back (429 with Retry-After).
import { OciError, type OciErrorCode } from './oci-codes.js';

export class RetryLaterError extends OciError {
  constructor(
    code: OciErrorCode,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(code, message, { retryAfterSeconds });
  }
}
