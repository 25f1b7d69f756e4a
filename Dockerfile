# archway's container image: built with the Swift toolchain, shipped without it.
#   docker build -t archway .
# The binary links the Swift runtime and Foundation statically, so the runtime image needs only libc.
FROM swift:6.3-noble AS build
WORKDIR /src
# Dependencies first: they change less often than the sources, so this layer is usually cached.
COPY Package.swift ./
RUN swift package resolve
COPY Plugins ./Plugins
COPY Sources ./Sources
# No .git is copied, so the commit `archway --version` names comes from here:
#   docker build --build-arg ARCHWAY_COMMIT=$(git rev-parse --short=12 HEAD) -t archway .
ARG ARCHWAY_COMMIT
RUN swift build -c release --static-swift-stdlib --product archway \
    && install -D "$(swift build -c release --show-bin-path)/archway" /out/archway

FROM ubuntu:24.04
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/archway /usr/local/bin/archway
# The same unprivileged user the Deployment's securityContext asks for.
USER 65532:65532
EXPOSE 8080 8443 9901
ENTRYPOINT ["/usr/local/bin/archway"]
CMD ["serve", "--kubernetes"]
