# One image recipe for every Python part of the platform. SERVICE picks the workspace package
# to install (e.g. payment-service); the command comes from docker-compose.yml.
FROM python:3.11-slim AS build
ARG SERVICE
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY deploy/local ./deploy/local
RUN uv sync --frozen --no-dev --no-editable --package "${SERVICE}"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home app
COPY --from=build /app/.venv /app/.venv
# The bootstrap (localcluster) reads every service's migrations from here (PAY_PROJECT_ROOT).
COPY --from=build /app/services /app/services
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1
USER app
WORKDIR /app
