# Berth's image: the agent (Consul-compatible), registrator and consul-template in one binary,
# plus nginx for edge mode. It follows the official Consul image's conventions: `agent …` as
# the command, /consul/data and /consul/config, CONSUL_LOCAL_CONFIG, CONSUL_BIND_INTERFACE and
# CONSUL_CLIENT_INTERFACE, a `consul` command, the same exposed ports.
#
#   docker build -t berth .
#
# A machine that cannot pull base images builds the same image with scripts/build-image: it
# assembles the base from Debian packages, builds the binary on the host, and runs the
# runtime stage below (everything after the `runtime` line) unchanged.

ARG RUST_IMAGE=rust:1-bookworm
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin berth \
 && install -m 0755 target/release/berth /usr/local/bin/berth

FROM ${BASE_IMAGE} AS runtime
# tini reaps and forwards signals; nginx-light serves edge mode; iproute2 resolves
# CONSUL_*_INTERFACE; util-linux's setpriv drops privileges.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates iproute2 nginx-light tini \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
 && groupadd --system consul \
 && useradd --system --gid consul --home-dir /consul --no-create-home --shell /usr/sbin/nologin consul \
 && mkdir -p /consul/data /consul/config /run/nginx /var/lib/nginx /etc/nginx/conf.d \
 && chown -R consul:consul /consul /run/nginx /var/lib/nginx /etc/nginx/conf.d
COPY --from=build /usr/local/bin/berth /usr/local/bin/berth
COPY docker/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
COPY nginx/ /etc/berth/nginx/
COPY templates/ /etc/berth/templates/
RUN ln -s berth /usr/local/bin/consul && berth version
# server RPC, LAN and WAN gossip, HTTP, DNS (Consul's defaults).
EXPOSE 8300 8301 8301/udp 8302 8302/udp 8500 8600 8600/udp
VOLUME /consul/data
ENTRYPOINT ["tini", "--", "docker-entrypoint.sh"]
CMD ["agent", "-dev", "-client", "0.0.0.0"]
