# make run   : create .venv, install (and, as root, Debian nginx, chromium, fonts), build the sample
#              database as of today if none exists, serve on :8501 (nginx in front of one worker per core)
# make test  : install dev requirements, axe-core (npm) (and, as root, Debian nginx, chromium, fonts, poppler,
#              LibreOffice, PostgreSQL), check the code with ruff, run all tests on three pytest-xdist workers
#              (TEST_WORKERS=0: in one process)
# make gallery: screenshots of every page and every export in gallery/index.html
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DB     ?= $(or $(KPI_DB),data/kpi.duckdb)
PORT   ?= 8501
# make run ADDRESS=0.0.0.0: reachable from the office network (phones, other computers); see README
ADDRESS ?= 127.0.0.1
export KPI_DB := $(DB)

.PHONY: run test install install-dev sysdeps rundeps axe sample bench gallery clean

$(VENV)/.req-stamp: requirements.txt
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv; fi; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev-stamp: requirements-dev.txt $(VENV)/.req-stamp
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

install: $(VENV)/.req-stamp

install-dev: $(VENV)/.dev-stamp

# Debian packages the server needs: nginx (the front of `python -m kpi serve`), chromium (chart
# images), a Vietnamese-capable font. Installed only when running as root and missing.
rundeps:
	@if [ "$$(id -u)" = 0 ]; then missing=""; \
	  [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	  if [ -n "$$missing" ]; then echo "apt-get install$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi; \
	fi

# Debian packages the tests need: nginx (serving tests), chromium (browser tests, chart images), a
# Vietnamese-capable font, poppler (pdftotext, pdffonts), LibreOffice Impress (the meeting deck laid
# out by a slide program), PostgreSQL (the state store's tests on both dialects start their own server
# from its binaries; the cluster service it installs is not used). Installed only when running as root and missing.
sysdeps:
	@if [ "$$(id -u)" = 0 ]; then missing=""; \
	  [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	  command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  if [ -n "$$missing" ]; then echo "apt-get install$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi; \
	  if ! command -v libreoffice >/dev/null 2>&1; then echo "apt-get install libreoffice-impress"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	      libreoffice-impress; fi; \
	fi

# axe-core, the accessibility engine tests/test_a11y.py injects into chromium (from the npm registry,
# pinned; kept in the git-ignored .axe/, read offline by the test).
AXE_VERSION := 4.10.3
AXE_STAMP   := .axe/.axe-core-$(AXE_VERSION)

$(AXE_STAMP):
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; \
	  else echo "npm is missing: install it (Debian package npm) to run the accessibility test"; exit 1; fi; }
	rm -rf .axe && npm install --prefix .axe --no-save --no-audit --no-fund --loglevel=error axe-core@$(AXE_VERSION)
	@touch $@

axe: $(AXE_STAMP)

$(DB): | install
	$(PY) -m kpi init --sample --as-of today --db $(DB)

sample: install
	$(PY) -m kpi init --sample --db $(DB)

run: install rundeps $(DB)
	$(PY) -m kpi serve --port $(PORT) --address $(ADDRESS)

# Three pytest-xdist workers on this machine's two cores, one test module at a time each, the costliest
# modules first (tests/conftest.py); TEST_WORKERS=0 runs everything in one process. The browser and server
# tests wait a good part of their time (page loads, settling, restarts): with two workers the cores were
# idle for part of the run (pytest 12 min 45 s), with three they stay busy (11 min 55 s; 07/12/2026).
TEST_WORKERS ?= 3
test: install-dev sysdeps axe
	$(PY) -m ruff check kpi pages dashboard.py tests
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder)

# make gallery [GALLERY=dir]: every page × role × screen size and every page of every export as
# images in one offline HTML file, for a look at the whole product before a release (about 3 minutes).
GALLERY ?= gallery
gallery: install-dev sysdeps
	$(PY) -m kpi gallery $(GALLERY)

clean:
	rm -rf $(VENV) .pytest_cache .axe
