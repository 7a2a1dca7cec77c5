# graygate: the edge reverse proxy for canary releases, as a container image.
#
#   docker build -t graygate .
#   docker run --rm -p 8080:8080 graygate            # the example config, see below
#   docker run --rm -p 8080:8080 -v "$PWD/my-config:/etc/graygate:ro" graygate
#
# Node 24 runs the TypeScript sources directly (type stripping): there is no
# build step, so the image is the production dependencies plus bin/ and src/.
# test/deploy/production-install.test.ts performs this same install without
# Docker and serves traffic from it, so a runtime dependency left in
# devDependencies (or a runtime file this image does not copy) fails CI.
# Pin the base image by digest (node:24-slim@sha256:…) for reproducible builds.

# ---- deps: production dependencies only, from the lockfile. Only the two
# package files are copied first, so this layer is rebuilt only when they change.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# ---- the image
FROM node:24-slim
WORKDIR /app
ENV GRAYGATE_CONFIG=/etc/graygate/graygate.yaml NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin/ ./bin/
COPY src/ ./src/
# The commented example config and its JSON Schema. Its admin listener is on
# 127.0.0.1:9090, which the HEALTHCHECK below reaches; under Kubernetes the
# ConfigMap (deploy/kubernetes/configmap.yaml) is mounted over /etc/graygate
# and moves it to the pod IP for the kubelet's probes.
COPY config/graygate.yaml config/graygate.schema.json /etc/graygate/

# The node image's unprivileged user (uid 1000). Everything above is owned by
# root and only read: the image also runs with a read-only root file system.
USER node
EXPOSE 8080 9090

# node runs as PID 1 here, with no init in front of it. The kernel delivers no
# default-action signals to PID 1, so a plain node would ignore SIGTERM; graygate
# installs its own SIGTERM/SIGINT (drain within server.drain, then exit 0) and
# SIGHUP (reload) handlers, so `docker stop` and the kubelet's SIGTERM drain it.
STOPSIGNAL SIGTERM

# node:24-slim has no curl or wget: node's global fetch asks the admin listener.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# `serve` reads $GRAYGATE_CONFIG; other commands work too:
#   docker run --rm graygate validate /etc/graygate/graygate.yaml
ENTRYPOINT ["node", "bin/graygate.js"]
CMD ["serve"]
