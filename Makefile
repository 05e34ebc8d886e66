# The two commands of the README. Everything else is a helper of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean browser serve ocr-libs java postgres

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -f demo/chataudit.db demo/chataudit.db-wal demo/chataudit.db-shm demo/chataudit.db.key
	mkdir -p demo
	$(BIN)/chataudit --db demo/chataudit.db import samples/ --tz Asia/Shanghai --label demo
	$(BIN)/chataudit --db demo/chataudit.db conversations
	$(BIN)/chataudit --db demo/chataudit.db search 退货
	$(BIN)/chataudit --db demo/chataudit.db export --conversation 1 --format html --out demo/report.html
	$(BIN)/chataudit --db demo/chataudit.db quality --roster samples/roster.csv --scripts samples/scripts.yaml
	$(BIN)/chataudit --db demo/chataudit.db quality --roster samples/roster.csv --scripts samples/scripts.yaml --html demo/quality.html
	$(BIN)/chataudit --db demo/chataudit.db supervise run
	$(BIN)/chataudit --db demo/chataudit.db supervise queue
	$(BIN)/chataudit --db demo/chataudit.db verify
	@echo "demo archive: demo/chataudit.db; timeline: demo/report.html; service quality: demo/quality.html"

# The web app over the demo archive (prints the login URL; Ctrl-C stops it).
serve: demo
	$(BIN)/chataudit --db demo/chataudit.db serve

# every core, at most four workers; tests that share a Spark session run on one worker (loadgroup)
test: $(STAMP) browser ocr-libs java postgres
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadgroup

# Screenshot OCR imports OpenCV (rapidocr-onnxruntime depends on opencv-python), which needs libGL.
ocr-libs: $(STAMP)
	@if ! $(BIN)/python -c "import cv2" >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgl1 libglib2.0-0 >/dev/null) \
	      || echo "warning: could not install libgl1; screenshot tests will fail"; \
	  else echo "note: OpenCV cannot load (install libgl1 and libglib2.0-0)"; fi; \
	fi

# The Spark tests run PySpark in local mode, which needs a Java 17 runtime.
java:
	@if ! command -v java >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
	      || echo "warning: could not install Java 17; Spark tests will be skipped"; \
	  else echo "note: no java (install openjdk-17-jre-headless); Spark tests will be skipped"; fi; \
	fi

# The PostgreSQL store's tests start a throwaway cluster with Debian's server binaries (tests/pg_cluster.py).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null) \
	      || echo "warning: could not install postgresql-15; PostgreSQL tests will be skipped"; \
	  else echo "note: PostgreSQL server binaries missing (install postgresql-15); PostgreSQL tests will be skipped"; fi; \
	fi

# Report tests render pages in a real browser: Debian's chromium (Playwright cannot download one here).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/noto ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "note: /usr/bin/chromium missing (run as root or install chromium); browser tests will be skipped"; fi; \
	fi

bench: $(STAMP) java
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_search.py
	$(BIN)/python bench/bench_formats.py
	$(BIN)/python bench/bench_compare.py
	$(BIN)/python bench/bench_verify.py
	$(BIN)/python bench/bench_quality.py
	$(BIN)/python bench/bench_pii.py
	$(BIN)/python bench/bench_web.py
	$(BIN)/python bench/bench_supervise.py
	$(BIN)/python bench/bench_encryption.py
	$(BIN)/python bench/bench_spark.py

clean:
	rm -rf $(VENV) demo/*.db* build *.egg-info
