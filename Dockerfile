# syntax=docker/dockerfile:1
#
#   docker build --build-arg REVISION=$(git rev-parse --short HEAD) -t pgpulse .
#   docker run -p 9187:9187 -e DATA_SOURCE_NAME='postgresql://monitor@db:5432/postgres' \
#       -e DATA_SOURCE_PASS_FILE=/run/secrets/monitor_pw pgpulse
#
# pgpulse listens on :9187 (all interfaces) by default, which is what a
# container wants; arguments after the image name go to pgpulse.

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
EXPOSE 9187
ENTRYPOINT ["/usr/bin/pgpulse"]
