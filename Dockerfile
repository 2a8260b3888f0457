# syntax=docker/dockerfile:1
# Build: the release binary, with the toolchain image only in this stage.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src src
COPY migrations migrations
COPY templates templates
COPY benches benches
COPY examples examples
RUN cargo build --release --locked --bin fedi-oidc

# Run: glibc and CA certificates only, no shell, as the unprivileged
# "nonroot" user (uid 65532). Templates and migrations are in the binary.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/fedi-oidc /usr/local/bin/fedi-oidc
USER 65532:65532
ENV FEDI_OIDC_CONFIG=/run/secrets/fedi-oidc.toml \
    FEDI_OIDC_BIND=0.0.0.0:8080 \
    FEDI_OIDC_KEYS_DIR=/run/secrets/keys \
    FEDI_OIDC_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/fedi-oidc", "health"]
ENTRYPOINT ["/usr/local/bin/fedi-oidc"]
CMD ["serve"]
