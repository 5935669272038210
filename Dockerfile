# syntax=docker/dockerfile:1
#
# Civitas container image.
#   docker build -t civitas .
#   docker run -p 8080:8080 -v civitas-data:/data civitas
# SQLite is compiled into the binary (libsqlite3-sys "bundled");
# libpq is linked dynamically, hence libpq-dev here and libpq5 at run time.

# ---- build -------------------------------------------------------------------
FROM rust:1-bookworm AS builder

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Build settings: the bundled SQLite's compile options.
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
COPY openapi ./openapi

RUN cargo build --release --locked \
    && install -D -m 0755 target/release/civitas /out/civitas

# ---- run ---------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system civitas \
    && useradd --system --gid civitas --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin civitas \
    && mkdir -p /data \
    && chown civitas:civitas /data

COPY --from=builder /out/civitas /usr/local/bin/civitas

ENV CIVITAS_DATA_DIR=/data \
    DATABASE_URL=sqlite:///data/civitas.db \
    CIVITAS_BIND=0.0.0.0:8080

VOLUME ["/data"]
WORKDIR /data
USER civitas
EXPOSE 8080

# No HEALTHCHECK here: the slim image has no curl. docker-compose.yml probes
# GET /health/ready with bash's /dev/tcp instead.
ENTRYPOINT ["civitas"]
CMD ["serve"]
