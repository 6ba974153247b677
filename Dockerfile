# edgeload: the load generator in a container, for workers (and a master) next to an edge box.
#
#   docker build -t edgeload:0.1.0 .
#   docker run --rm -e GROUNDLIGHT_ENDPOINT=http://<edge-ip>:30101 -e GROUNDLIGHT_API_TOKEN \
#       -v "$PWD/load_tests:/app/load_tests" edgeload:0.1.0 throughput BINARY
#   docker run --rm --entrypoint locust edgeload:0.1.0 -f locustfiles/throughput.py --worker \
#       --master-host <master-ip>
#
# The dependencies are exactly those of the committed uv.lock (`uv sync --frozen`: the lock is
# used as it is, never re-resolved), without the development tools.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /app

# The locked dependencies first: a layer that stays cached while only the source changes.
COPY pyproject.toml uv.lock README.md .python-version ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the suite itself (edgeload/ links to reporting/, shapes/, configs/, locustfiles/).
COPY . .
RUN uv sync --frozen --no-dev

ENV PATH="/app/.venv/bin:$PATH"

# An unprivileged user; run folders go to /app/load_tests (mount a volume there).
RUN useradd --create-home --uid 10001 edgeload \
    && mkdir -p /app/load_tests \
    && chown edgeload /app/load_tests
USER 10001

# 5557: a Locust master's port for its workers; 8089: Locust's web UI.
EXPOSE 5557 8089

ENTRYPOINT ["edgeload"]
CMD ["--help"]
