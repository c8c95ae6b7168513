# syntax=docker/dockerfile:1
#
#   docker build --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse --short HEAD) \
#       -t pgpulse .
#   docker run --read-only --cap-drop=ALL -p 9187:9187 \
#       -e DATA_SOURCE_URI='db:5432/postgres?sslmode=require' -e DATA_SOURCE_USER=pgpulse \
#       -e DATA_SOURCE_PASS_FILE=/run/secrets/monitor_pw \
#       -v "$PWD/monitor_pw:/run/secrets/monitor_pw:ro" pgpulse
#
# (podman: the same commands; `make docker-check` builds and tests the image
# with podman, see scripts/docker-check.)
#
# pgpulse listens on :9187 (all interfaces) by default, which is what a
# container wants; arguments after the image name go to pgpulse.
#
# Configuration, the container way:
#   DATA_SOURCE_NAME or DATABASE_URL      the target as one URI or conninfo
#   DATA_SOURCE_URI, DATA_SOURCE_USER, DATA_SOURCE_PASS, each with a _FILE
#                                         form for mounted secrets
#   PGPULSE_CONFIG=/etc/pgpulse/pgpulse.yaml with a config directory mounted
#                                         at /etc/pgpulse (several targets,
#                                         own query files, password_file:)
#   PG_EXPORTER_* for the flags (see pgpulse --help)
# The image writes nothing: run it with a read-only root filesystem.
#
# Probes: GET /healthz (200 while the process lives: liveness) and
# GET /readyz (200 once every target was reached: readiness). There is no
# HEALTHCHECK: OCI images (podman's default, Kubernetes) drop it, and the
# image has no HTTP client to run one; point the orchestrator's probes at
# those two paths.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libpq-dev libmicrohttpd-dev libyaml-dev \
      zlib1g-dev libcrypt-dev libgnutls28-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build and `make install` read: a host build/ directory must
# never end up in the image, and no .git is needed (REVISION comes in as an
# argument).
COPY Makefile ./
COPY exporter/ exporter/
COPY queries/ queries/
COPY dashboards/ dashboards/
ARG REVISION=unknown
# PREFIX on both commands: it is compiled in (the default query directory).
RUN make -j"$(nproc)" PREFIX=/usr REVISION="$REVISION" \
 && make install PREFIX=/usr REVISION="$REVISION" DESTDIR=/out

FROM debian:bookworm-slim
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="pgpulse" \
      org.opencontainers.image.description="A PostgreSQL and pgbouncer exporter for Prometheus" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpq5 libmicrohttpd12 libgnutls30 libyaml-0-2 zlib1g libcrypt1 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 pgpulse \
 && useradd --system --uid 10001 --gid pgpulse --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin pgpulse
COPY --from=build /out/usr/ /usr/
# Numeric, so that runAsNonRoot can verify it.
USER 10001:10001
# Where a config directory is mounted (PGPULSE_CONFIG names the file in it).
WORKDIR /etc/pgpulse
EXPOSE 9187
ENTRYPOINT ["/usr/bin/pgpulse"]
