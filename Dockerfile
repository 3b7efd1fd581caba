# matchmaker: multi-stage build, CPU-only torch pinned, non-root, health-checked.
# Build: docker build -t matchmaker .   Run: docker run -p 8000:8000 -v matchmaker-data:/var/lib/matchmaker matchmaker
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, CPU build, pinned (as ./dev.sh does): sentence-transformers would otherwise pull the CUDA build.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 matchmaker \
    && mkdir -p /var/lib/matchmaker && chown matchmaker:matchmaker /var/lib/matchmaker
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY migrations ./migrations
COPY data ./data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    MATCHMAKER_DATA_DIR=/var/lib/matchmaker \
    MATCHMAKER_MIGRATIONS_DIR=/app/migrations \
    MATCHMAKER_SAMPLE_DATA_DIR=/app/data/sample
USER matchmaker
EXPOSE 8000
VOLUME ["/var/lib/matchmaker"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
CMD ["matchmaker", "serve", "--host", "0.0.0.0", "--port", "8000"]
