# syntax=docker/dockerfile:1
#
# One Dockerfile, three images; pick one with --target:
#
#   docker build --target shop-api      -t ghcr.io/shop-platform/shop-api:0.1.0 .
#   docker build --target shop-workers  -t ghcr.io/shop-platform/shop-workers:0.1.0 .
#   docker build --target shop-operator -t ghcr.io/shop-platform/shop-operator:0.1.0 .
#
# Needs BuildKit (the default builder of Docker 23+): cargo's registry and target directory live in
# cache mounts, so a rebuild after a source change compiles only what changed, not every
# dependency. Every image runs as uid/gid 10001 with an exec-form entrypoint (no shell involved).

ARG RUST_VERSION=1.90
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------------
# Build: the rust image has the C compiler zstd-sys and mimalloc need; protobuf is compiled by
# protox (pure Rust), so no protoc.
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
ENV CARGO_TERM_COLOR=never
COPY . .

# One stage per binary, so `--target shop-operator` compiles only what the operator needs. They
# share one target-directory cache; `sharing=locked` makes parallel builds take turns on it.
# The binary is copied out of the cache mount, which is not part of the image.
FROM build AS build-shop-api
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p shop-api \
    && install -D -m 0755 target/release/shop-api /out/shop-api

FROM build AS build-shop-workers
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p shop-workers \
    && install -D -m 0755 target/release/shop-workers /out/shop-workers

FROM build AS build-shop-operator
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p shop-operator \
    && install -D -m 0755 target/release/shop-operator /out/shop-operator

# ---------------------------------------------------------------------------------------------
# shop-api: Debian slim with the PostgreSQL 17 client from the PostgreSQL project's apt
# repository (PGDG), because `shop-api backup` runs pg_dump and pg_restore, which must be at least
# the server's major version. PATH and SHOP_PG_DUMP/SHOP_PG_RESTORE point at the version-17
# binaries themselves, not at Debian's Perl wrapper in /usr/bin.
FROM debian:${DEBIAN_RELEASE}-slim AS shop-api
ARG DEBIAN_RELEASE
ARG PG_MAJOR=17
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl; \
    install -d /usr/share/postgresql-common/pgdg; \
    curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
    echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${DEBIAN_RELEASE}-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"; \
    apt-get purge -y --auto-remove curl; \
    rm -rf /var/lib/apt/lists/*; \
    "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump" --version; \
    groupadd --system --gid 10001 shop; \
    useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/shop --no-create-home \
        --shell /usr/sbin/nologin shop; \
    install -d -o 10001 -g 10001 -m 0750 /var/lib/shop
ENV PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SHOP_PG_DUMP=/usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump \
    SHOP_PG_RESTORE=/usr/lib/postgresql/${PG_MAJOR}/bin/pg_restore
COPY --from=build-shop-api /out/shop-api /usr/local/bin/shop-api
# The embedded SQLite file and file:// backups land here when nothing else is configured.
WORKDIR /var/lib/shop
USER 10001:10001
EXPOSE 8080 50051
ENTRYPOINT ["/usr/local/bin/shop-api"]
CMD ["serve"]

# ---------------------------------------------------------------------------------------------
# shop-workers and shop-operator: distroless (glibc, libgcc, CA certificates; no shell, no
# package manager), as uid/gid 10001.
FROM gcr.io/distroless/cc-debian12:nonroot AS shop-workers
COPY --from=build-shop-workers /out/shop-workers /usr/local/bin/shop-workers
USER 10001:10001
EXPOSE 9100
ENTRYPOINT ["/usr/local/bin/shop-workers"]

FROM gcr.io/distroless/cc-debian12:nonroot AS shop-operator
COPY --from=build-shop-operator /out/shop-operator /usr/local/bin/shop-operator
USER 10001:10001
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/shop-operator"]
CMD ["run"]
