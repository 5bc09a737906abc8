# syntax=docker/dockerfile:1
# vipgate image: a static Go binary on distroless (no shell, no package
# manager), running as the distroless nonroot user.
#
#   docker build -t vipgate/vipgate:dev .
#   docker build --target avisim -t vipgate/avisim:dev .   # the simulated Avi Controller

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS source
# Filled in by BuildKit for the requested platform (cross-compiled, no emulation).
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Modules first, so source edits do not invalidate the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} GOFLAGS=-buildvcs=false

# One build stage per binary: BuildKit builds only what the chosen target needs.
FROM source AS build-vipgate
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w" -o /out/vipgate ./cmd/vipgate

FROM source AS build-avisim
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w" -o /out/avisim ./cmd/avisim

# The simulated Avi Controller, for demos without an Avi licence (optional target).
FROM gcr.io/distroless/static-debian12:nonroot AS avisim
COPY --from=build-avisim /out/avisim /avisim
USER 65532:65532
ENTRYPOINT ["/avisim"]

# Default target: the operator. Last stage, so a plain `docker build` builds it.
FROM gcr.io/distroless/static-debian12:nonroot AS vipgate
COPY --from=build-vipgate /out/vipgate /vipgate
USER 65532:65532
ENTRYPOINT ["/vipgate"]
