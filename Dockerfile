# syntax=docker/dockerfile:1
#
# drctl controller image.
#
#   docker build -t drctl:0.1.0 .
#   docker run --rm drctl:0.1.0 --help
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.

########## build ##########
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# The whole crate (see .dockerignore). The cargo registry, git checkouts and
# target/ live in BuildKit cache mounts, so a rebuild after a source change
# recompiles drctl only, not its dependencies.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin drctl \
 && install -D -m 0755 target/release/drctl /out/drctl \
 && install -d -m 0750 /out/data

########## runtime ##########
# glibc, libgcc and CA certificates; no shell, no package manager. drctl links
# glibc only (TLS is rustls), so nothing else is needed.
FROM gcr.io/distroless/cc-debian12:nonroot

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="drctl" \
      org.opencontainers.image.description="Disaster-recovery and failover controller for an active/passive AWS platform" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=build /out/drctl /usr/local/bin/drctl
COPY policies/ /etc/drctl/policies/
COPY runbooks/ /usr/share/drctl/runbooks/
# The raft log, vote and state machine (redb). Mount a persistent volume here.
COPY --from=build --chown=65532:65532 /out/data /var/lib/drctl

# uid/gid 65532 is distroless's "nonroot".
USER 65532:65532

# API, metrics and node-to-node raft RPC.
EXPOSE 7100
VOLUME ["/var/lib/drctl"]

# For `docker run` and Compose only: Kubernetes ignores HEALTHCHECK and uses
# the pod's liveness, readiness and startup probes (deploy/k8s/base).
# No shell or curl in distroless, so drctl checks itself (exit 0 on HTTP 200).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/drctl", "health", "--url", "http://127.0.0.1:7100/healthz"]

ENTRYPOINT ["/usr/local/bin/drctl"]
CMD ["controller", "--config", "/etc/drctl/node.yaml"]
