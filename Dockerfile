# One image for every publisher service (scheduler, worker, CLI).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PUBLISHER_HOME=/data
RUN useradd --create-home --uid 1000 publisher && mkdir -p /data && chown publisher /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY publisher ./publisher
COPY config ./config
RUN pip install --no-cache-dir '.[postgres]'
USER publisher
ENTRYPOINT ["publisher"]
CMD ["--help"]
