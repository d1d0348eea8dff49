# syntax=docker/dockerfile:1
# The one image recipe of the platform's Python processes. SERVICE names the workspace package to
# install (payment-service, ..., or localcluster for the bootstrap that migrates and creates the
# topics). services/<name>/Dockerfile is this file with SERVICE and the web command filled in,
# written by deploy/docker/render_dockerfiles.py: edit this file, then run that script.
# Build from the workspace root, which holds the lockfile and every library:
#   docker build -f deploy/docker/python.Dockerfile --build-arg SERVICE=localcluster .
ARG SERVICE
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<workspace package>"; exit 1; }
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
# uv reads the whole workspace to check the lockfile, so every member is copied; only SERVICE
# and the libraries it depends on are installed, each exactly as uv.lock pins it (--locked
# refuses a lockfile that no longer matches the pyprojects).
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY deploy/local ./deploy/local
COPY tools ./tools
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable --package "${SERVICE}"
# What the runtime needs besides the virtualenv: nothing for a service; for the bootstrap, every
# service's migrations and the ledger's grants (localcluster reads them under PAY_PROJECT_ROOT).
RUN mkdir /extra && if [ "${SERVICE}" = localcluster ]; then \
        find services -path '*/src/*/migrations/*.sql' -o -name runtime_privileges.sql \
            | xargs cp --parents -t /extra; \
    fi

FROM ${PYTHON_IMAGE}
# One numeric, unprivileged user for every image: Kubernetes' runAsNonRoot can check a number.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent app
COPY --from=build /app/.venv /app/.venv
COPY --from=build /extra /app/
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PAY_PROJECT_ROOT=/app \
    PAYKIT_HEALTH_DIR=/tmp/paykit-health
USER 10001:10001
WORKDIR /app
EXPOSE 8080
# The web process answers /healthz (touches nothing); a worker's container replaces this check
# with `python -m paykit.health $PAYKIT_HEALTH_DIR/<client id>.json` (docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["python", "-c", "print('name the command: a service image runs its web process by default')"]
