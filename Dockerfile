# One image for every Atlas service; the command picks the service (see docker-compose.yml).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY atlas ./atlas
COPY ingress ./ingress
COPY streams ./streams
COPY sinks ./sinks
COPY schemas ./schemas
COPY api ./api
COPY client ./client
RUN pip install ".[rocksdb]" ./client && useradd --system --home /app atlas && mkdir -p /var/lib/atlas \
    && chown atlas /var/lib/atlas

USER atlas
ENV ATLAS_WORKER_DATA_DIR=/var/lib/atlas/worker-data
ENTRYPOINT ["atlas"]
CMD ["--help"]
