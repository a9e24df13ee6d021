# syntax=docker/dockerfile:1
#
# The connectors as container images: each an Airbyte custom connector, and
# its Singer tap (/tap-pluggy, a symlink to /source-pluggy, and so on). The
# default target is source-pluggy; the others are targets of their names.
#
#   docker build -t source-pluggy:0.1.0 --build-arg VERSION=0.1.0 .
#   docker build --target source-gocardless-bank-data -t source-gocardless-bank-data:0.1.0 --build-arg VERSION=0.1.0 .
#   docker build --target source-enablebanking -t source-enablebanking:0.1.0 --build-arg VERSION=0.1.0 .
#   docker run --rm source-pluggy:0.1.0 spec
#   docker build --target cron -t source-pluggy:0.1.0-cron .    # kept for old scripts: the same image
#
# The final image is busybox: a static Go binary needs only CA certificates
# (copied from the Debian build image) and a passwd naming the user airbyte
# (uid 1000) that it runs as, but Airbyte starts every connector container
# with `sh -c` (its launcher's script evaluates "$AIRBYTE_ENTRYPOINT read
# ...", waits for it and writes its exit code), so an image without a shell
# fails there before the connector starts. --build-arg BASE_IMAGE=scratch
# builds the shell-less image for `docker run` and Kubernetes Jobs, which
# Airbyte cannot run. Base images are build arguments so a mirror or a
# locally imported base can stand in for the registry ones.
# .ci/container.sh builds and checks this file with buildah and no registry.

ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=busybox:1.36
ARG CRON_BASE_IMAGE=busybox:1.36
# Where the binary and the image's files come from: "build" (the default)
# compiles them in GO_IMAGE; "prebuilt" takes them from the build context
# (out/container/rootfs, laid out by `.ci/container.sh rootfs`), for builders
# without a registry. The default is written ${ROOTFS:-build} below rather
# than here because buildah (1.28) ignores ARG defaults when it works out
# which stages a build needs.
ARG ROOTFS
ARG VERSION=0.1.0

# 1. Compile the static binaries and lay out each image's files under
# /rootfs/<connector>.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION
ARG TARGETOS
ARG TARGETARCH
RUN GOOS="$TARGETOS" GOARCH="$TARGETARCH" VERSION="$VERSION" sh .ci/container.sh rootfs /rootfs

# 1'. Or take them ready-made from the build context.
FROM scratch AS prebuilt
COPY out/container/rootfs/ /rootfs/

FROM ${ROOTFS:-build} AS rootfs

# 2. The same files on a base with a shell, for schedulers that need one to
# keep state between runs (see docs/operations.md, "Kubernetes"). The
# default target has one too now (Airbyte needs it); this one stays for the
# scripts that name it.
FROM ${CRON_BASE_IMAGE} AS cron
ARG VERSION
COPY --from=rootfs /rootfs/source-pluggy/ /
ENV AIRBYTE_ENTRYPOINT=/source-pluggy
LABEL io.airbyte.name=source-pluggy \
      io.airbyte.version=${VERSION} \
      org.opencontainers.image.title=source-pluggy \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.source=https://github.com/source-pluggy/source-pluggy
USER 1000:1000
ENTRYPOINT ["/source-pluggy"]

# 3. The GoCardless connector's image (--target source-gocardless-bank-data),
# and its Singer tap /tap-gocardless-bank-data.
FROM ${BASE_IMAGE} AS source-gocardless-bank-data
ARG VERSION
COPY --from=rootfs /rootfs/source-gocardless-bank-data/ /
ENV AIRBYTE_ENTRYPOINT=/source-gocardless-bank-data
LABEL io.airbyte.name=source-gocardless-bank-data \
      io.airbyte.version=${VERSION} \
      org.opencontainers.image.title=source-gocardless-bank-data \
      org.opencontainers.image.description="Airbyte source and Singer tap for GoCardless Bank Account Data (Nordigen)" \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.source=https://github.com/source-pluggy/source-pluggy
USER 1000:1000
ENTRYPOINT ["/source-gocardless-bank-data"]

# 4. The Enable Banking connector's image (--target source-enablebanking),
# and its Singer tap /tap-enablebanking.
FROM ${BASE_IMAGE} AS source-enablebanking
ARG VERSION
COPY --from=rootfs /rootfs/source-enablebanking/ /
ENV AIRBYTE_ENTRYPOINT=/source-enablebanking
LABEL io.airbyte.name=source-enablebanking \
      io.airbyte.version=${VERSION} \
      org.opencontainers.image.title=source-enablebanking \
      org.opencontainers.image.description="Airbyte source and Singer tap for Enable Banking (PSD2 account information)" \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.source=https://github.com/source-pluggy/source-pluggy
USER 1000:1000
ENTRYPOINT ["/source-enablebanking"]

# 5. The Pluggy connector's image (the default target, also
# --target source-pluggy), on a base with sh: Airbyte runs it through
# `sh -c` (see the top).
FROM ${BASE_IMAGE} AS source-pluggy
ARG VERSION
COPY --from=rootfs /rootfs/source-pluggy/ /
ENV AIRBYTE_ENTRYPOINT=/source-pluggy
LABEL io.airbyte.name=source-pluggy \
      io.airbyte.version=${VERSION} \
      org.opencontainers.image.title=source-pluggy \
      org.opencontainers.image.description="Airbyte source and Singer tap for Pluggy (Brazilian Open Finance)" \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.source=https://github.com/source-pluggy/source-pluggy
# Numeric, so Kubernetes' runAsNonRoot can verify it; /etc/passwd names it airbyte.
USER 1000:1000
ENTRYPOINT ["/source-pluggy"]
