// Configuration text for the servers the benchmark drives: the nginx static backends and the
// HAProxy and nginx proxies. Pure functions, so what "configured equivalently" means is readable
// in one place: keep-alive to the backends, no buffering, active-standby with health checks where
// the product has them, access logging off everywhere (ha-proxy runs at --log-level warn too).

export interface ProxySpec {
  listenPort: number;
  /** Backend ports in priority order: the first is active, the rest are standbys. */
  backendPorts: number[];
  /** Worker threads (HAProxy) or processes (nginx); ha-proxy gets the same as --workers. */
  workers: number;
  /** Scratch directory for pid and temp files. */
  dir: string;
}

/** nginx writes request bodies and proxied responses to temp paths compiled in under /var/lib; keep them ours. */
function nginxTempPaths(dir: string): string[] {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind}-temp;`);
}

/**
 * A single-process nginx serving `filesDir` at /v2/bench/blobs/ and answering 200 on /v2/ (the
 * health check path). master_process off makes SIGKILL of the backend take it down completely,
 * which the failover scenario needs.
 */
export function staticBackendConf(port: number, filesDir: string, dir: string): string {
  return [
    'daemon off;',
    'master_process off;',
    `pid ${dir}/nginx-backend-${port}.pid;`,
    'error_log stderr error;',
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    '  sendfile on;',
    '  tcp_nopush on;',
    // Longer than any proxy's idle timeout towards it, so pooled connections are closed by the proxy side.
    '  keepalive_timeout 300s;',
    '  keepalive_requests 1000000;',
    ...nginxTempPaths(dir),
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    default_type application/octet-stream;',
    '    location = /v2/ { default_type application/json; return 200 "{}"; }',
    `    location /v2/bench/blobs/ { alias ${filesDir}/; }`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export function haproxyConf(spec: ProxySpec): string {
  const [active, ...standbys] = spec.backendPorts;
  return [
    'global',
    `  nbthread ${spec.workers}`,
    '  maxconn 8000',
    'defaults',
    '  mode http',
    '  timeout connect 3s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  timeout http-keep-alive 60s',
    '  option http-keep-alive',
    '  option forwardfor',
    // Same retry policy as ha-proxy's default: retry on connect failure or an empty response, on
    // another server (redispatch), twice.
    '  retries 2',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
    'frontend fe',
    `  bind 127.0.0.1:${spec.listenPort}`,
    '  default_backend be',
    'backend be',
    '  http-reuse always',
    '  option httpchk GET /v2/',
    '  http-check expect rstatus ^(200|401)$',
    '  default-server inter 2s fastinter 500ms downinter 2s rise 2 fall 3 observe layer7 error-limit 3 on-error mark-down',
    `  server a 127.0.0.1:${active} check`,
    ...standbys.map((port, i) => `  server s${i} 127.0.0.1:${port} check backup`),
    '',
  ].join('\n');
}

/**
 * nginx open source has passive health only (max_fails/fail_timeout); active checks are an
 * nginx Plus feature. proxy_buffering off with a 64k proxy_buffer_size: the 4k default streams
 * blobs at about a third of the speed.
 */
export function nginxProxyConf(spec: ProxySpec): string {
  const [active, ...standbys] = spec.backendPorts;
  return [
    'daemon off;',
    `worker_processes ${spec.workers};`,
    `pid ${spec.dir}/nginx-proxy-${spec.listenPort}.pid;`,
    'error_log stderr error;',
    'events { worker_connections 8192; }',
    'http {',
    '  access_log off;',
    ...nginxTempPaths(spec.dir),
    '  upstream be {',
    `    server 127.0.0.1:${active} max_fails=1 fail_timeout=2s;`,
    ...standbys.map((port) => `    server 127.0.0.1:${port} backup;`),
    '    keepalive 128;',
    '    keepalive_timeout 60s;',
    '    keepalive_requests 1000000;',
    '  }',
    '  server {',
    `    listen 127.0.0.1:${spec.listenPort};`,
    '    keepalive_requests 1000000;',
    '    client_max_body_size 0;',
    '    location / {',
    '      proxy_pass http://be;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '      proxy_set_header Host $http_host;',
    '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '      proxy_set_header X-Forwarded-Proto $scheme;',
    '      proxy_buffering off;',
    '      proxy_buffer_size 64k;',
    // Only checked for consistency with proxy_buffer_size when buffering is off.
    '      proxy_buffers 4 64k;',
    '      proxy_busy_buffers_size 128k;',
    '      proxy_request_buffering off;',
    '      proxy_connect_timeout 3s;',
    '      proxy_next_upstream error timeout http_502 http_503;',
    '      proxy_next_upstream_tries 3;',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}
