// Storage's faults as the OCI errors clients see: the one place storage's own terms meet HTTP
// codes (storage itself knows no HTTP). The codes and statuses are the distribution-spec's.
import { OciError } from '../../errors/oci-codes.js';
import { StorageError, type StorageFault } from '../storage/storage-error.js';

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
  }
}

/** A StorageError as the OciError the client gets; anything else unchanged. */
export function clientError(err: unknown): unknown {
  return err instanceof StorageError ? ociErrorOf(err.fault, err.message) : err;
}
