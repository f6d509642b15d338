// Socket error codes that describe this process or host running out of something (descriptors,
// memory, buffers), not the peer it was talking to: a health check or a forwarding attempt that
// fails with one of them says nothing about the backend and must never count against it.
const LOCAL_RESOURCE_ERRORS = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'ENOBUFS']);

export function isLocalResourceError(code: string | undefined): boolean {
  return code !== undefined && LOCAL_RESOURCE_ERRORS.has(code);
}
