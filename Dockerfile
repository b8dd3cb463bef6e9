# syntax=docker/dockerfile:1
#
# callhook's container image: `callhook serve` on a distroless base, as user 65532, with nothing
# else in it but a static wget for the HEALTHCHECK.
#
#   docker build -t callhook:0.1.0 --build-arg VERSION=0.1.0 .
#   docker run --rm -p 8080:8080 -v "$PWD/callhook.toml:/etc/callhook/callhook.toml:ro" \
#     -e CALLHOOK_AUTH__APP_ID=... --read-only callhook:0.1.0
#
# Stopping: callhook drains in-flight requests on SIGTERM for at most
# server.shutdown_timeout_secs (30 s by default), then exits 0. The orchestrator's grace period
# must be longer, or the drain is cut short by SIGKILL: docker's default stop timeout is 10 s, so
# use `docker stop -t 40` (compose: `stop_grace_period: 40s`; Kubernetes:
# terminationGracePeriodSeconds, 45 in deploy/kubernetes/statefulset.yaml with its preStop sleep).
#
# `cargo xtask dockerfile` (a step of `cargo xtask ci`) lints this file with hadolint and checks
# that its commands, port, paths and user match the binary and deploy/kubernetes/.

# The build: the toolchain CI uses (at least the workspace's rust-version). Debian 12 (bookworm),
# as the run stage, so that the binary's glibc is the one it runs with.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# Without the default `dev-tools` feature: `callhook demo`, `simulate` and `issuer` sign with the
# committed test keys of a local development issuer and have no place in a production image.
# The caches (crates and the target directory) are BuildKit cache mounts: a rebuild after a source
# change downloads nothing and recompiles only what changed. The target directory is a cache, not
# a layer, so the binary is copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --no-default-features -p callhook-server --bin callhook \
    && cp target/release/callhook /usr/local/bin/callhook

# wget for the HEALTHCHECK: distroless has no shell, curl or wget, and callhook has no probe
# command. busybox's musl build is one static binary; copied under the name wget it runs only its
# wget applet (busybox picks the applet by the name it is run as). It exits non-zero on a refused
# connection or a non-2xx answer, which is what a health check needs.
FROM busybox:1.37.0-musl AS wget

# The run stage: glibc and libgcc (what a Rust binary links) and CA certificates (callhook fetches
# the platform's signing keys over https), no shell, no package manager. The `nonroot` variant's
# user is 65532:65532, the runAsUser and runAsGroup of deploy/kubernetes/statefulset.yaml.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="callhook" \
      org.opencontainers.image.description="Webhook server for Microsoft Teams calling bots" \
      org.opencontainers.image.source="https://github.com/callhook/callhook" \
      org.opencontainers.image.url="https://github.com/callhook/callhook" \
      org.opencontainers.image.documentation="https://github.com/callhook/callhook/blob/main/docs/operations.md" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.vendor="The callhook developers" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /usr/local/bin/callhook /usr/local/bin/callhook
COPY --from=wget /bin/wget /usr/local/bin/wget
# Numeric, so that Kubernetes' runAsNonRoot can verify it. callhook writes nothing (logs go to
# stderr): the root filesystem may be read-only (`docker run --read-only`).
USER 65532:65532
# server.listen's default, 0.0.0.0:8080. The configuration is mounted at /etc/callhook, as
# deploy/kubernetes/statefulset.yaml does; CALLHOOK_<SECTION>__<KEY> variables override it.
EXPOSE 8080
# Docker and compose run this; Kubernetes ignores it and uses the manifests' livenessProbe on the
# same path. It assumes the default port: with another server.listen, override it
# (`docker run --health-cmd ...`).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/wget", "-q", "-O", "/dev/null", "-T", "2", "http://127.0.0.1:8080/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["callhook"]
CMD ["serve", "--config", "/etc/callhook/callhook.toml"]
