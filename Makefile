# Provenant: `make run` starts the platform with embedded defaults, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.provenant-installed
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/provenant
# Text in the image's OCR: installed without its dependencies, which name opencv-python (a
# second cv2 over the project's opencv-python-headless); its other requirements are pinned in
# pyproject.toml. Keep in step with the Dockerfile.

.PHONY: install run test lint typecheck format services system-packages worker beat clean

# Debian packages the tests use: Chromium for the browser tests (Playwright drives it; it never
# downloads a browser of its own) and the photo packages the evaluation sets are built from
# (gnome-backgrounds and librsvg2-bin's rsvg-convert, for its SVGs: the hard tier only).
SYSTEM_PACKAGES := chromium fonts-dejavu-core mate-backgrounds desktop-base opencv-doc \
  gnome-backgrounds librsvg2-bin

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@# MTCNN face finder (detection.core.mtcnn): its weights ship in this wheel, which pins an old
	@# torch; the code runs on the torch above, so it goes in without its dependencies.
	$(BIN)/pip install --quiet --no-deps facenet-pytorch==2.6.0
	@# Text in the image (detection.core.text_in_image): it asks for opencv-python, a second cv2
	@# over the headless one; its other requirements are pinned in pyproject.
	$(BIN)/pip install --quiet --no-deps rapidocr-onnxruntime==1.4.4
	@# The project runs from the checkout: the repo root and platform/ (a source folder, appended
	@# after the standard library so `import platform` stays the stdlib) go on sys.path.
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/platform" \
	  > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/provenant-paths.pth"
	touch $@

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup
	@echo "Provenant is starting at http://$(HOST):$(PORT)/ (API docs: http://$(HOST):$(PORT)/api/docs/)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO -Q default,ingest,analyze,video,index,deliver

beat: install  # periodic repairs (settings.CELERY_BEAT_SCHEDULE); run exactly one
	$(BIN)/celery -A config beat --loglevel=INFO -s var/celerybeat-schedule

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy with the Django and DRF stubs (pyproject.toml [tool.mypy]: strict on the Django-free cores).
typecheck: install
	$(BIN)/python -m mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Best effort: start the local PostgreSQL and Redis when they are installed but down.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { command -v pg_ctlcluster >/dev/null && \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; } || true
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || { command -v redis-server >/dev/null && \
	  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
	  --dir /var/lib/redis --logfile /var/log/redis/ci.log; } || true

system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	  | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $$(test "$$(id -u)" = 0 || echo sudo) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$(test "$$(id -u)" = 0 || echo sudo) \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: install system-packages services lint typecheck
	$(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.production ALLOWED_HOSTS=provenant.example \
	  SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build
