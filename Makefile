# The two commands of the README. Everything else is a helper of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -f demo/chataudit.db demo/chataudit.db-wal demo/chataudit.db-shm
	mkdir -p demo
	$(BIN)/chataudit --db demo/chataudit.db import samples/ --tz Asia/Shanghai --label demo
	$(BIN)/chataudit --db demo/chataudit.db conversations
	$(BIN)/chataudit --db demo/chataudit.db search 退货
	$(BIN)/chataudit --db demo/chataudit.db export --conversation 1 --format html --out demo/report.html
	@echo "demo archive: demo/chataudit.db, timeline report: demo/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_search.py

clean:
	rm -rf $(VENV) demo/*.db* build *.egg-info
