// Storage's faults as the OCI errors clients see: the one place storage's own terms meet HTTP
// codes (storage itself knows no HTTP). The codes and statuses are the distribution-spec's.
import { OciError } from '../../errors/oci-codes.js';
import { RetryLaterError } from '../../errors/retry-later.js';
import { StorageError, type StorageFault } from '../storage/storage-error.js';

/**
 * Retry-After of a 503 while storage does not answer: each attempt is bounded (a frozen S3 costs
 * the client at most the S3 deadline), so a short pause is enough not to hammer a recovering server.
 */
const STORAGE_RETRY_AFTER_SECONDS = 5;

function ociErrorOf(fault: StorageFault, message: string): OciError {
  switch (fault.kind) {
    case 'blobUnknown':
      return new OciError('BLOB_UNKNOWN', undefined, { digest: fault.digest });
    case 'uploadUnknown':
      return new OciError('BLOB_UPLOAD_UNKNOWN', undefined, { id: fault.id });
    case 'digestMismatch':
      return new OciError('DIGEST_INVALID', undefined, { expected: fault.expected, actual: fault.actual });
    case 'sizeMismatch':
      return new OciError('SIZE_INVALID', message, fault.actual === undefined ? { expected: fault.expected } : { expected: fault.expected, actual: fault.actual });
    case 'chunkOutOfOrder':
      // 416 with the upload's size: the client resumes from there (distribution-spec, chunked upload).
      return new OciError('RANGE_INVALID', message, { size: fault.size });
    case 'corrupt':
      // The client's request is fine; this replica cannot serve it (another replica may).
      return new OciError('UNAVAILABLE', 'corrupt data in storage');
    case 'unavailable':
      // Nothing was acknowledged: the request may be sent again as it was. (The message names
      // the request to S3, for the log; the client learns only why.)
      return new RetryLaterError('UNAVAILABLE', `the registry storage is unavailable: ${fault.reason}`, STORAGE_RETRY_AFTER_SECONDS);
  }
}

/** A StorageError as the OciError the client gets; anything else unchanged. */
export function clientError(err: unknown): unknown {
  return err instanceof StorageError ? ociErrorOf(err.fault, err.message) : err;
}
