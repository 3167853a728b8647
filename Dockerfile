# slotproxy container image.
#
#   stage build    the official Swift 6.3 toolchain image (Debian 12 "bookworm"): release build
#                  of the slotproxy executable with the Swift runtime linked in
#                  statically (--static-swift-stdlib), stripped
#   stage runtime  debian:bookworm-slim + the shared libraries the binary still needs (libevent
#                  and the C++ runtime; Tests/integration/test_deploy.py checks this list against
#                  `ldd`), run as an unprivileged user
#
# Build:  docker build -t slotproxy .
# Run:    docker run -p 7777:7777 -p 9777:9777 -v $PWD/my.conf:/etc/slotproxy/proxy.conf:ro slotproxy
#    or:  docker run -p 7777:7777 slotproxy /etc/slotproxy/proxy.conf --seeds redis-1:6379,redis-2:6379
#
# The baked-in /etc/slotproxy/proxy.conf is the repository's annotated proxy.conf with three lines
# appended for a container: listen on every interface (bind 0.0.0.0), and serve the admin endpoint
# (metrics-port 9777 on 0.0.0.0) that HEALTHCHECK probes. Seeds must come from a mounted file or
# --seeds. Logs go to standard error (docker logs). `docker stop` sends SIGTERM: the proxy stops
# accepting, answers what it has received, and exits 0 within shutdown-timeout (10 s by default:
# give `docker stop -t` / stop_grace_period a few seconds more).

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libevent-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product slotproxy \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/slotproxy" /out/slotproxy \
    && strip /out/slotproxy
COPY proxy.conf /out/proxy.conf
RUN printf '\n# Container defaults (Dockerfile).\nbind 0.0.0.0\nmetrics-port 9777\nmetrics-bind 0.0.0.0\n' >> /out/proxy.conf

FROM ${RUNTIME_IMAGE} AS runtime
# Only what `ldd slotproxy` lists beyond libc: libevent (+ its core and pthreads parts) and the
# C++ runtime the statically linked Swift runtime calls into.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libevent-2.1-7 \
        libevent-core-2.1-7 \
        libevent-pthreads-2.1-7 \
        libstdc++6 \
        libgcc-s1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin slotproxy
COPY --from=build /out/slotproxy /usr/local/bin/slotproxy
COPY --from=build /out/proxy.conf /etc/slotproxy/proxy.conf
USER 10001:10001
# 7777: Redis clients; 9777: the admin endpoint (/metrics, /healthz, /readyz).
EXPOSE 7777 9777
STOPSIGNAL SIGTERM
# bash's /dev/tcp: no HTTP client needs installing for the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9777 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/slotproxy"]
CMD ["/etc/slotproxy/proxy.conf"]
