# syntax=docker/dockerfile:1
# fleet daemon image. Build:  docker build -t fleet-upgrader:0.1.0 .
#                              docker build --build-arg EXTRAS=eks,postgres -t fleet-upgrader:eks .
# Run:   docker run -v $PWD/fleet.yaml:/etc/fleet/fleet.yaml:ro -v $PWD/policies:/etc/fleet/policies:ro \
#                   -p 8080:8080 fleet-upgrader:0.1.0
# (the config's spec.http.listen must be 0.0.0.0:8080 inside a container)

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: a virtual environment with fleet and only the extras asked for ---------------------------------
FROM ${PYTHON_IMAGE} AS build
# comma-separated extras of fleet-upgrader: all (every provider + postgres), or e.g. "eks,gke,postgres"; "" for none
ARG EXTRAS=all
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fleet ./fleet
COPY providers ./providers
RUN python -m venv /opt/fleet \
 && if [ -n "${EXTRAS}" ]; then spec=".[${EXTRAS}]"; else spec="."; fi \
 && /opt/fleet/bin/pip install "${spec}" \
 && /opt/fleet/bin/fleet --help >/dev/null

# ---- runtime: slim base, time zone data, non-root ---------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 fleet \
 && useradd --system --uid 10001 --gid fleet --home-dir /var/lib/fleet --create-home --shell /usr/sbin/nologin fleet
COPY --from=build /opt/fleet /opt/fleet
ENV PATH=/opt/fleet/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/fleet
WORKDIR /var/lib/fleet
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
CMD ["fleet", "daemon", "--config", "/etc/fleet/fleet.yaml"]
