# syntax=docker/dockerfile:1
#
# Production image of pudo (see docs/operations.md).
#
#   docker build -t pudo .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://… -e PUDO_JWT_SECRET=… pudo
#
# SQLite and libpq are compiled from source by the crates (libsqlite3-sys "bundled",
# pq-sys "bundled_without_openssl"), so the build stage needs only Rust and a C compiler and the
# runtime image needs no database client libraries.

# The toolchain CI uses; override with --build-arg RUST_VERSION=….
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-trixie AS build
WORKDIR /src
COPY . .
# The registry and target caches survive between builds on the same machine.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin pudo \
 && install -m 0755 target/release/pudo /usr/local/bin/pudo

FROM debian:trixie-slim
# curl only for the HEALTHCHECK below; webhooks use the TLS roots compiled into the binary.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/pudo --create-home \
      --shell /usr/sbin/nologin pudo
COPY --from=build /usr/local/bin/pudo /usr/local/bin/pudo

# Every setting is an environment variable (docs/operations.md, "Configuration"). These are the
# image's production defaults: listen on every interface, JSON logs, no demo network, and a
# SQLite file in the volume for a single instance without PostgreSQL.
ENV PUDO_BIND=0.0.0.0:8080 \
    PUDO_LOG_FORMAT=json \
    PUDO_SEED=none \
    DATABASE_URL=sqlite:///var/lib/pudo/pudo.db \
    RUST_LOG=info

USER pudo:pudo
WORKDIR /var/lib/pudo
VOLUME ["/var/lib/pudo"]
EXPOSE 8080
# pudo drains in-flight requests for up to 30 s on SIGTERM: give `docker stop` longer
# (docker stop -t 40, or stop_grace_period in compose.yaml).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz >/dev/null || exit 1

ENTRYPOINT ["/usr/local/bin/pudo"]
CMD ["serve"]
