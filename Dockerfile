# One image for web, worker and beat (docker-compose.yml picks the command).

# --- Front-end libraries from the npm registry (htmx, Pico CSS) ---------------
FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# --- The application ------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=procurement.settings \
    PYTHONPATH=/app \
    VAR_DIR=/app/var

WORKDIR /app
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home app

# Dependencies first, so a code change does not reinstall them. The project
# installs only its pinned dependencies (see pyproject.toml), never itself.
COPY pyproject.toml ./
RUN pip install .

COPY --from=assets /app/node_modules ./node_modules
COPY . .

# Static files are collected into the image (served by WhiteNoise). The key and
# broker below exist only for this step: importing the settings needs them.
RUN SECRET_KEY=collectstatic-only DEBUG=0 REDIS_URL=redis://unused:6379/0 \
        python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p var/media var/mail \
    && chown -R app:app var

USER app
EXPOSE 8000

# procurement/gunicorn_conf.py: worker hooks that keep garbage-collection pauses short.
CMD ["gunicorn", "procurement.wsgi:application", "--config", "python:procurement.gunicorn_conf", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--timeout", "60"]
