# syntax=docker/dockerfile:1
# Images of trivy-operator-rs: one Dockerfile, two targets.
#
#   docker build --target leader -t ghcr.io/trivy-operator-rs/leader:0.1.0 .
#   docker build --target worker -t ghcr.io/trivy-operator-rs/worker:0.1.0 .
#   docker build --target trivy-double -t localhost/trivy-operator-rs/trivy-double:e2e .
#
# The third is for tests only (scripts/kind-e2e): kube-sim's Trivy double as `trivy`, with
# the real Trivy outputs of tests/data/trivy-json, so the scan scenarios run on a real
# cluster (their images follow the double's naming convention, `trivy-double.test/...`).
#
# The builder compiles both binaries once (release, --locked). The runtime is distroless
# `cc` (glibc, libgcc, CA certificates; no shell, no package manager), running as the
# nonroot user 65532. The builder is Debian bookworm like distroless `cc-debian12`, so the
# binaries link against the same glibc. Cargo.lock needs Rust >= 1.95.

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /src
# make: the operator's allocator (jemalloc) is built from source.
RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
# The whole workspace: cargo needs every member's manifest even to build two of them.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p leader -p worker \
    && mkdir -p /out \
    && cp target/release/trivy-operator-leader target/release/trivy-operator-worker /out/

# The Trivy double, built only for the trivy-double target.
FROM builder AS double-builder
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p kube-sim --bin trivy-double \
    && cp target/release/trivy-double /out/trivy

FROM gcr.io/distroless/cc-debian12:nonroot AS leader
COPY --from=builder /out/trivy-operator-leader /usr/local/bin/trivy-operator-leader
USER 65532:65532
EXPOSE 7070 9090
ENTRYPOINT ["/usr/local/bin/trivy-operator-leader"]
CMD ["run"]

FROM gcr.io/distroless/cc-debian12:nonroot AS worker
COPY --from=builder /out/trivy-operator-worker /usr/local/bin/trivy-operator-worker
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/trivy-operator-worker"]

FROM gcr.io/distroless/cc-debian12:nonroot AS trivy-double
COPY --from=double-builder /out/trivy /usr/local/bin/trivy
COPY tests/data/trivy-json /usr/share/trivy-double/trivy-json
COPY tests/data/trivy-cyclonedx /usr/share/trivy-double/trivy-cyclonedx
ENV TRIVY_DOUBLE_DATA=/usr/share/trivy-double/trivy-json
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/trivy"]
