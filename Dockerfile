# idtrail: multi-stage build. The runtime image holds the binary and libpq only.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release -p api && cp target/release/idtrail /usr/local/bin/idtrail

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/idtrail --create-home idtrail
COPY --from=build /usr/local/bin/idtrail /usr/local/bin/idtrail
USER idtrail
WORKDIR /var/lib/idtrail
ENV IDTRAIL_BIND=0.0.0.0:8080 IDTRAIL_DATA_DIR=/var/lib/idtrail
EXPOSE 8080
# `idtrail healthcheck` asks /readyz (the database answers) at the bind address: no shell, no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD ["idtrail", "healthcheck"]
ENTRYPOINT ["idtrail"]
CMD ["serve"]
