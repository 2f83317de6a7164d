# Provenant image for web and worker. Build: docker compose build (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app:/app/platform \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    DATA_DIR=/data

# CPU wheels by default; the gpu profile builds with a CUDA index and faiss-gpu instead.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG EXTRA_PACKAGES=""

WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir --extra-index-url "${TORCH_INDEX_URL}" . ${EXTRA_PACKAGES}
# The MTCNN face finder's weights ship in this wheel, which pins an old torch: no dependencies.
RUN pip install --no-cache-dir --no-deps facenet-pytorch==2.6.0
# Text in the image (rapidocr): its opencv-python requirement would shadow the headless OpenCV.
RUN pip install --no-cache-dir --no-deps rapidocr-onnxruntime==1.4.4
COPY . .
RUN useradd --create-home --uid 10001 provenant && mkdir -p /data && chown provenant /data
USER provenant
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-class", "gthread", "--threads", "8", "--timeout", "60"]
