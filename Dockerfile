# One image for every publisher service (scheduler, worker, CLI).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PUBLISHER_HOME=/data
RUN useradd --create-home --uid 1000 publisher && mkdir -p /data && chown publisher /data
WORKDIR /app
# Exact dependency versions, those the tests passed with (scripts/constraints.py writes the file).
COPY constraints.txt ./
COPY pyproject.toml README.md ./
COPY publisher ./publisher
# config/compose.yaml is the configuration docker-compose.yml runs with; root-owned here, as publisher requires of
# a file that grants permissions.
COPY config ./config
RUN pip install --no-cache-dir -c constraints.txt '.[postgres]'
USER publisher
# Healthy = broker and store answer (schema at head), a live worker for every channel queue in use, a live
# scheduler, no due delivery more than 60 s late (`publisher health --help`).
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 CMD ["publisher", "health"]
ENTRYPOINT ["publisher"]
CMD ["--help"]
