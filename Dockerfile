FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 SWITCHBOARD_CONFIG=/app/config/switchboard.yml
COPY pyproject.toml README.md requirements.lock ./
COPY hub ./hub
COPY channels ./channels
COPY bot ./bot
COPY agents_ui ./agents_ui
COPY switchboard ./switchboard
COPY config ./config
RUN pip install --no-cache-dir -c requirements.lock . && useradd --system --home /data switchboard && mkdir -p /data \
    && chown switchboard /data
USER switchboard
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["switchboard", "serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
