# The Action's image: a static binary on a small base with what before-swap and restart
# commands need to reach a database or an API: bash, curl, jq, and the PostgreSQL and
# MySQL/MariaDB clients. Releases publish it prebuilt for amd64 and arm64 (see README,
# "Publishing"); action.yml of a tagged release points at that image.
FROM rust:1-alpine AS build
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev ca-certificates
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin stack-mitosis

FROM alpine:3.20
# hadolint ignore=DL3018
RUN apk add --no-cache bash curl jq ca-certificates postgresql16-client mariadb-client
COPY --from=build /src/target/release/stack-mitosis /usr/local/bin/stack-mitosis
# No USER: the image runs as root, which the runner needs to write its file-command files.
ENTRYPOINT ["/usr/local/bin/stack-mitosis"]
