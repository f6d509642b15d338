# ha-proxy: the proxy and the built-in registry replica in one image.
#   docker build -t ha-proxy .
#   docker run -p 5000:5000 -v ha-data:/data ha-proxy     # proxy + two supervised replicas
# docker-compose.yml runs the replicas as separate containers instead.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# Scripts are skipped so `prepare` (tsc) does not run before the sources are in place.
RUN npm ci --ignore-scripts
COPY src ./src
COPY bin ./bin
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
COPY bin ./bin
COPY config ./config
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# 5000: registry clients; 9090: /metrics, /livez, /readyz.
EXPOSE 5000 9090
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:9090/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/ha-proxy.js"]
CMD ["--mode", "active-standby", "--listen", "0.0.0.0:5000", "--admin-listen", "0.0.0.0:9090", "--data", "/data"]
