// The connection-specific header fields (RFC 9110 s7.6.1), in one list for the HTTP/1.1 forwarder
// (they stay on their own hop, both ways) and the HTTP/2 listener (RFC 9113 s8.2.2: malformed in
// HTTP/2; Node throws ERR_HTTP2_INVALID_CONNECTION_HEADERS on them). Transfer-Encoding too: each
// hop frames its own body (the forwarder sends a body of unknown length chunked). HTTP2-Settings
// belongs to one HTTP/1.1 upgrade request (RFC 9113 s3.2.1); a TE in a response means nothing.
// Lower case: compare with a lower-cased name.
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'transfer-encoding',
  'http2-settings',
]);
