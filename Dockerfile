# The Action's image: a static binary on a small base that has bash and curl for the
# restart and before-swap commands. Releases publish it prebuilt (see README, "Publishing").
FROM rust:1.88-alpine AS build
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev ca-certificates
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin stack-mitosis

FROM alpine:3.20
# hadolint ignore=DL3018
RUN apk add --no-cache bash curl ca-certificates
COPY --from=build /src/target/release/stack-mitosis /usr/local/bin/stack-mitosis
# No USER: the image runs as root, which the runner needs to write its file-command files.
ENTRYPOINT ["/usr/local/bin/stack-mitosis"]
