# syntax=docker/dockerfile:1
#
# weft container image: a static binary on an empty (scratch) base.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t weft:dev .
#   docker run --rm --read-only -v weft-state:/var/lib/weft \
#     -v "$PWD/pipelines.yaml:/etc/weft/pipelines.yaml:ro" \
#     -p 4317:4317 -p 4318:4318 -p 4900:4900 weft:dev
#
# The image runs as UID/GID 65532 (no root, no shell, nothing but /weft and
# the CA bundle) and works with a read-only root file system: the only path
# weft writes is /var/lib/weft (tail checkpoints, dead-letter files), a
# declared volume. Pipelines are read from /etc/weft/ (mount a file or a
# ConfigMap there). See README.md, "Deploying".

ARG GO_VERSION=1.26

# ---- build: static binary, version stamped -------------------------------
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
WORKDIR /src
# Dependencies first, so source edits do not invalidate this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/weft . \
 && mkdir -p /out/rootfs/etc/weft /out/rootfs/var/lib /out/rootfs/etc/ssl/certs /out/state \
 && cp /etc/ssl/certs/ca-certificates.crt /out/rootfs/etc/ssl/certs/ \
 && printf 'weft:x:65532:65532:weft:/var/lib/weft:/sbin/nologin\n' >/out/rootfs/etc/passwd \
 && printf 'weft:x:65532:\n' >/out/rootfs/etc/group

# ---- final: scratch -------------------------------------------------------
FROM scratch
# /etc/ssl/certs/ca-certificates.crt, /etc/passwd, /etc/group, empty /etc/weft
# and /var/lib, all owned by root.
COPY --from=build /out/rootfs/ /
# The state directory is the only thing the agent's user owns.
COPY --from=build --chown=65532:65532 /out/state/ /var/lib/weft/
COPY --from=build /out/weft /weft
USER 65532:65532
# The only writable path. Everything else may be read-only (--read-only,
# readOnlyRootFilesystem: true).
VOLUME ["/var/lib/weft"]
# 2021 http logs (Fluent Bit http output), 4317/4318 OTLP gRPC/HTTP,
# 21890 Data Prepper OTLP traces, 24224 Fluentd Forward, 4900 admin
# (/healthz /readyz /metrics; set weft.admin.address or --admin to 0.0.0.0:4900
# to reach it from outside the container).
EXPOSE 2021 4317 4318 21890 24224 4900
ENTRYPOINT ["/weft"]
CMD ["run", "-c", "/etc/weft/", "--data-dir", "/var/lib/weft"]
